"""One live check stands for the next step while it is fresh (services.checks): a preview's for its Confirm, a
submission's for its worker; a stale, foreign, forged or other check is not used, and SCP is asked again."""

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.core.errors import NotFound
from portal.interfaces import services
from portal.interfaces.models import InterfaceRequest, Status
from portal.interfaces.registry import operation_named
from portal.interfaces.services.checks import check_seal
from portal.teams.models import ServerOwnership

from .conftest import age_check


def params(world, server="web-01", subnet="prod-app", fixed_ips=()):
    subnet_id = world.subnets[subnet].id
    return {
        "server_id": world.servers[server].id,
        "mode": "subnet",
        "subnet_id": subnet_id,
        "fixed_ips": list(fixed_ips),
    }


def reads(sim) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in sim.requests() if r["method"] == "GET"]


def submit_on(requester, world, check, **overrides):
    given = {**params(world), **overrides}
    return services.interface_request_submit(
        requester=requester, idempotency_key=uuid.uuid4(), justification="x", check=check, **given
    )


def run(request):
    services.interface_request_execute(request_id=request.pk)
    request.refresh_from_db()
    return request


def event(request, action):
    return AuditEvent.objects.get(interface_request_id=request.pk, action=action)


def test_confirm_on_a_fresh_preview_asks_scp_nothing_and_says_so(sim, world, requester):
    plan, check = services.attach_preview(user=requester, **params(world, fixed_ips=["192.168.10.77"]))
    assert {i.port_id for i in plan.interfaces}  # the preview saw the server's interfaces, in its one round
    sim.clear_log()
    request = submit_on(requester, world, check, fixed_ips=["192.168.10.77"])
    assert reads(sim) == []
    assert request.check_facts["by"] == "preview" and request.fixed_ips == ["192.168.10.77"]
    assert request.subnet_cidr == world.subnets["prod-app"].cidr  # recorded from what the preview was told
    submitted = event(request, "interface_request.submitted").payload["check"]
    assert submitted["by"] == "preview" and submitted["at"] == request.checked_at.isoformat()


@pytest.mark.parametrize("spoil", ["other parameters", "other user", "stale", "forged", "switched off"])
def test_a_check_that_does_not_stand_is_not_used_and_scp_is_asked(
    spoil, sim, world, requester, other_requester, settings
):
    operation = operation_named("attach")
    plan, check = services.attach_preview(user=requester, **params(world))
    user, overrides = requester, {}
    if spoil == "other parameters":
        overrides = {"subnet_id": world.subnets["prod-db"].id}
    elif spoil == "other user":
        user = other_requester
    elif spoil == "stale":
        long_ago = timezone.now() - dt.timedelta(seconds=settings.CONFIG.scp_check_fresh_seconds + 5)
        check = check_seal(user=requester, operation=operation, params=params(world), plan=plan, at=long_ago)
    elif spoil == "forged":
        check = check[:-3] + ("AAA" if not check.endswith("AAA") else "BBB")
    else:
        settings.CONFIG = settings.CONFIG.model_copy(update={"scp_check_fresh_seconds": 0})
    sim.clear_log()
    request = submit_on(user, world, check, **overrides)
    assert request.check_facts["by"] == "submission"
    assert any(path.endswith(f"/servers/{request.server_id}") for path in reads(sim))


def test_ownership_is_decided_again_at_confirm(sim, world, requester):
    _plan, check = services.attach_preview(user=requester, **params(world))
    # After the preview, the team gives the server up.
    ServerOwnership.objects.filter(team__name="platform").update(value="nothing-by-this-name-*")
    confirming = type(requester).objects.get(pk=requester.pk)  # (the Confirm is another HTTP request)
    with pytest.raises(NotFound):
        submit_on(confirming, world, check)
    assert not InterfaceRequest.objects.exists()
    assert AuditEvent.objects.filter(action="server.access", outcome="denied").exists()


def test_fixed_ip_holds_are_decided_again_at_confirm(sim, world, requester, other_requester):
    from portal.interfaces.errors import AttachRejected

    _plan, check = services.attach_preview(user=requester, **params(world, fixed_ips=["192.168.10.78"]))
    submit_on(other_requester, world, "", fixed_ips=["192.168.10.78"])  # took the address meanwhile
    with pytest.raises(AttachRejected) as refused:
        submit_on(requester, world, check, fixed_ips=["192.168.10.78"])
    assert "held by another" in refused.value.summary


def test_the_worker_sends_on_a_fresh_submission_check_with_no_read_first(sim, world, requester):
    request = submit_on(requester, world, "")
    sim.clear_log()
    request = run(request)
    assert request.status == Status.SUCCEEDED, request.status_reason
    first = sim.requests()[0]
    assert (first["method"], first["path"].endswith("/interfaces")) == ("POST", True)
    intent = event(request, "scp.attach.intent").payload
    assert intent["check"] == {"by": "submission", "at": request.checked_at.isoformat()}
    assert intent["ports_before"] == sorted(i["port_id"] for i in request.check_facts["plan"]["interfaces"])


def test_a_check_older_than_the_window_is_made_again_before_sending(sim, world, requester):
    request = submit_on(requester, world, "")
    age_check(request)
    sim.clear_log()
    request = run(request)
    assert request.status == Status.SUCCEEDED, request.status_reason
    assert any(path.endswith("/interfaces") for path in reads(sim))  # the server's interfaces read again
    assert event(request, "scp.attach.intent").payload["check"]["by"] == "execution"


def test_another_write_on_the_server_since_the_check_makes_the_worker_check_again(sim, world, requester):
    first = submit_on(requester, world, "")
    second = submit_on(requester, world, "", subnet_id=world.subnets["prod-db"].id)
    assert run(first).status == Status.SUCCEEDED  # after `second` was checked: its snapshot lacks this port
    sim.clear_log()
    second = run(second)
    assert second.status == Status.SUCCEEDED, second.status_reason
    intent = event(second, "scp.attach.intent").payload
    assert intent["check"]["by"] == "execution" and first.result_port_id in intent["ports_before"]
    assert reads(sim)


def test_within_the_window_scp_refuses_what_changed_and_nothing_is_attached(sim, world, requester, scp):
    request = submit_on(requester, world, "")
    before = {i.port_id for i in scp.list_server_interfaces(request.server_id)}
    sim.set_server(request.server_id, locked=True)  # locked after the check, seconds before the write
    try:
        request = run(request)
    finally:
        sim.set_server(request.server_id, locked=False)
    assert request.status == Status.FAILED and "locked" in request.status_reason
    assert {i.port_id for i in scp.list_server_interfaces(request.server_id)} == before
    assert event(request, "scp.attach.intent").payload["check"]["by"] == "submission"


def test_a_detach_on_a_fresh_check_is_refused_by_scp_when_the_interface_went_meanwhile(sim, world, requester, scp):
    from portal.scp import schemas

    server_id = world.servers["web-01"].id
    port_id = scp.attach_interface(
        server_id, schemas.ServerInterfaceCreateRequest(subnet_id=world.subnets["prod-app"].id)
    ).port_id
    request = services.detach_request_submit(
        requester=requester, idempotency_key=uuid.uuid4(), justification="x", server_id=server_id, port_id=port_id
    )
    scp.detach_interface(server_id, port_id)  # someone else, outside the portal, after the check
    request = run(request)
    assert request.status == Status.FAILED
    assert request.status_reason.startswith("SCP reported a conflict and detached nothing")
    assert event(request, "scp.detach.intent").payload["check"]["by"] == "submission"
