"""Fixed IPs held while a request waits: refused at the form, at the check as you type, and under races."""

import threading
import uuid

import pytest
from django.db import connections

from portal.audit.models import AuditEvent
from portal.interfaces import selectors, services
from portal.interfaces.errors import AttachRejected
from portal.interfaces.models import FixedIpHold, InterfaceRequest, Status


@pytest.fixture
def needs_approval(settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"approval_default": "approver"})


def submit(user, world, *addresses, subnet="prod-db"):
    return services.interface_request_submit(
        requester=user,
        idempotency_key=uuid.uuid4(),
        justification="hold it",
        server_id=world.servers["web-01"].id,
        mode="subnet",
        subnet_id=world.subnets[subnet].id,
        fixed_ips=list(addresses),
    )


def test_a_pending_request_holds_its_ips_and_a_second_is_refused_naming_it_to_whoever_may_see_it(
    sim, world, requester, other_requester, needs_approval
):
    first = submit(requester, world, "192.168.20.31", "192.168.20.32")
    assert first.status == Status.PENDING_APPROVAL
    assert set(FixedIpHold.objects.values_list("address", flat=True)) == {"192.168.20.31", "192.168.20.32"}
    with pytest.raises(AttachRejected) as refused:
        submit(other_requester, world, "192.168.20.33", "192.168.20.32")
    assert refused.value.errors == {  # another requester's request: not named to them
        "fixed_ip_1": ["192.168.20.32 is held by another open request until that request ends."]
    }
    with pytest.raises(AttachRejected) as refused:
        submit(requester, world, "192.168.20.32")  # their own: named
    assert refused.value.errors == {
        "fixed_ip_0": [f"192.168.20.32 is held by request {first.pk} (pending approval) until that request ends."]
    }
    assert InterfaceRequest.objects.count() == 1
    assert AuditEvent.objects.filter(action="interface_request.invalid", actor_name="other").exists()


def test_the_check_as_you_type_names_the_holder_only_to_those_who_may_see_it(
    sim, world, requester, other_requester, approver, needs_approval
):
    first = submit(requester, world, "192.168.20.34")

    def check(user):
        return selectors.fixed_ip_check(
            user=user,
            server_id=world.servers["web-01"].id,
            subnet_id=world.subnets["prod-db"].id,
            address="192.168.20.34",
        )

    named = f"192.168.20.34 is held by request {first.pk} (pending approval) until that request ends."
    assert check(other_requester) == ("192.168.20.34 is held by another open request until that request ends.", False)
    assert check(approver) == (named, False)  # an approver of its team sees it


def test_the_hold_ends_with_the_request(sim, world, requester, other_requester, needs_approval):
    first = submit(requester, world, "192.168.20.35")
    services.interface_request_cancel(request=first, user=requester)
    assert FixedIpHold.objects.count() == 0
    second = submit(other_requester, world, "192.168.20.35")
    assert second.status == Status.PENDING_APPROVAL and FixedIpHold.objects.get().request_id == second.pk


def test_a_request_executes_with_its_own_hold(sim, world, requester, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        request = submit(requester, world, "192.168.20.36")
    request.refresh_from_db()
    assert request.status == Status.SUCCEEDED, request.status_reason
    assert FixedIpHold.objects.count() == 0  # released when it ended; SCP now has the address


def test_ipv6_spellings_are_one_address(db):
    assert selectors.canonical_address("2001:DB8::5") == selectors.canonical_address("2001:db8:0::5") == "2001:db8::5"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_pairs_of_concurrent_submits_of_one_ip_accept_exactly_one_each(
    sim, world, requester, other_requester, settings
):
    settings.CONFIG = settings.CONFIG.model_copy(update={"approval_default": "approver"})
    outcomes = []
    for pair in range(20):
        address = f"192.168.20.{100 + pair}"
        barrier = threading.Barrier(2)
        results = []

        def race(user, address=address, barrier=barrier, results=results):
            try:
                barrier.wait()
                results.append(submit(user, world, address).pk)
            except AttachRejected as exc:
                results.append(exc.summary)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=race, args=(u,)) for u in (requester, other_requester)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        outcomes.append(results)
    for results in outcomes:
        accepted = [r for r in results if isinstance(r, int)]
        refused = [r for r in results if isinstance(r, str)]
        assert len(accepted) == 1 and len(refused) == 1, results
        assert "is held by another open request" in refused[0]  # (each other's: not named)
    assert InterfaceRequest.objects.count() == 20 and FixedIpHold.objects.count() == 20


def test_the_approver_sees_the_hold_and_any_conflict(sim, world, requester, other_requester, approver, needs_approval):
    from portal.approvals.selectors import decision_context

    first = submit(requester, world, "192.168.20.37")
    assert decision_context(first, approver)["holds"] == ["192.168.20.37"]
    FixedIpHold.objects.all().delete()  # as for a request submitted before holds existed
    second = submit(other_requester, world, "192.168.20.37")
    context = decision_context(second, approver)
    assert context["conflicts"] == [f"192.168.20.37 is also asked for by request {first.pk} (pending approval)."]
