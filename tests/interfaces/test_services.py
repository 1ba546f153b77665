"""Submission and execution through the services, against the simulator over HTTP."""

import uuid

import pytest
from django.conf import settings

from portal.audit.models import AuditEvent
from portal.interfaces import services
from portal.interfaces.errors import AttachRejected, NotAllowed
from portal.interfaces.models import FrozenParametersError, InterfaceRequest, Status
from portal.scp import schemas

from .conftest import age_check


def by_subnet(world, server="web-01", subnet="prod-app", fixed_ips=None):
    return {
        "server_id": world.servers[server].id,
        "mode": "subnet",
        "subnet_id": world.subnets[subnet].id,
        "fixed_ips": fixed_ips or [],
    }


def actions(request):
    return list(
        AuditEvent.objects.filter(interface_request_id=request.pk).order_by("seq").values_list("action", flat=True)
    )


def test_attach_by_subnet_with_fixed_ip_succeeds_and_records_the_interface(sim, world, submit, scp):
    request = submit(**by_subnet(world, fixed_ips=["192.168.10.42"]))
    assert request.status == Status.SUCCEEDED, request.status_reason
    assert request.result["fixed_ips"] == [{"ip_address": "192.168.10.42"}]
    assert request.result["mac_addr"].startswith("fa:16:3e:") and request.result["port_state"] == "ACTIVE"
    assert request.result_port_id in {i.port_id for i in scp.list_server_interfaces(request.server_id)}
    posts = sim.attach_posts()
    assert len(posts) == 1 and posts[0]["body"] == {
        "subnet_id": world.subnets["prod-app"].id,
        "fixed_ips": [{"ip_address": "192.168.10.42"}],
    }
    assert posts[0]["version"] == "virtualserver 1.3"


def test_attach_existing_port(sim, world, submit):
    port = world.spare_port()
    request = submit(server_id=world.servers["web-01"].id, mode="port", port_id=port.id)
    assert request.status == Status.SUCCEEDED and request.result_port_id == port.id
    assert sim.attach_posts()[0]["body"] == {"port_id": port.id}


def test_the_write_ahead_event_is_committed_before_the_call_and_the_outcome_after(sim, world, submit):
    request = submit(**by_subnet(world))
    sequence = actions(request)
    intent = sequence.index("scp.attach.intent")
    post = next(
        i
        for i, e in enumerate(AuditEvent.objects.filter(interface_request_id=request.pk).order_by("seq"))
        if e.action == "scp.call" and e.payload["method"] == "POST"
    )
    assert sequence[:3] == ["interface_request.submitted", "approval.auto_approved", "interface_request.claimed"]
    assert intent < post < sequence.index("interface_request.succeeded")


def test_same_idempotency_key_makes_one_request_and_one_call(sim, world, submit):
    key = uuid.uuid4()
    first = submit(key=key, **by_subnet(world))
    second = submit(key=key, **by_subnet(world))
    assert first.pk == second.pk and InterfaceRequest.objects.count() == 1
    assert len(sim.attach_posts()) == 1


def test_409_from_scp_fails_with_the_reason(sim, world, submit):
    sim.faults(conflict_rate=1.0)
    request = submit(**by_subnet(world))
    assert request.status == Status.FAILED
    assert "conflict" in request.status_reason and "server is busy" in request.status_reason
    assert len(sim.attach_posts()) == 1


def test_a_request_that_no_longer_fits_fails_at_execution_and_sends_nothing(sim, world, requester, scp):
    port = world.spare_port()
    request = services.interface_request_submit(
        requester=requester,
        idempotency_key=uuid.uuid4(),
        justification="x",
        server_id=world.servers["web-01"].id,
        mode="port",
        port_id=port.id,
    )
    age_check(request)  # approved a while later: the worker checks again
    scp.attach_interface(world.servers["app-02"].id, schemas.ServerInterfaceCreateRequest(port_id=port.id))
    sim.clear_log()
    services.interface_request_execute(request_id=request.pk)
    request.refresh_from_db()
    assert request.status == Status.FAILED
    assert "No longer possible" in request.status_reason and "already attached" in request.status_reason
    assert sim.attach_posts() == []


def test_server_locked_after_submission_fails_before_sending(sim, world, requester):
    request = services.interface_request_submit(
        requester=requester, idempotency_key=uuid.uuid4(), justification="x", **by_subnet(world)
    )
    age_check(request)
    sim.set_server(request.server_id, locked=True)
    services.interface_request_execute(request_id=request.pk)
    request.refresh_from_db()
    assert request.status == Status.FAILED and "locked" in request.status_reason
    assert sim.attach_posts() == []


def test_scp_unreachable_before_sending_waits_and_retries_instead_of_failing(
    sim, world, requester, settings, django_capture_on_commit_callbacks
):
    request = services.interface_request_submit(
        requester=requester, idempotency_key=uuid.uuid4(), justification="x", **by_subnet(world)
    )
    reachable = settings.CONFIG
    settings.CONFIG = reachable.model_copy(
        update={"scp_virtualserver_url": "http://127.0.0.1:9/virtualserver", "scp_vpc_url": "http://127.0.0.1:9/vpc"}
    )
    services.interface_request_execute(request_id=request.pk)
    request.refresh_from_db()
    assert request.status == Status.APPROVED and request.attempts == 1
    assert "Nothing was sent" in request.status_reason and "tries again" in request.status_reason
    services.interface_request_execute(request_id=request.pk)  # too early: its backoff is not over
    assert InterfaceRequest.objects.get(pk=request.pk).attempts == 1
    settings.CONFIG = reachable
    with django_capture_on_commit_callbacks(execute=True):  # the sweep starts it (on the immediate backend)
        assert services.requests_resume_due(now=request.next_attempt_at) == 1
    request.refresh_from_db()
    assert request.status == Status.SUCCEEDED and len(sim.attach_posts()) == 1


def test_scp_unreachable_for_every_attempt_fails_with_the_reason(sim, world, requester, settings):
    request = services.interface_request_submit(
        requester=requester, idempotency_key=uuid.uuid4(), justification="x", **by_subnet(world)
    )
    settings.CONFIG = settings.CONFIG.model_copy(
        update={"scp_virtualserver_url": "http://127.0.0.1:9/virtualserver", "scp_vpc_url": "http://127.0.0.1:9/vpc"}
    )
    InterfaceRequest.objects.filter(pk=request.pk).update(status=Status.APPROVED, attempts=services.MAX_ATTEMPTS - 1)
    services.interface_request_execute(request_id=request.pk)
    request.refresh_from_db()
    assert request.status == Status.FAILED and "nothing was sent" in request.status_reason


@pytest.mark.parametrize(
    ("fault", "expected", "interfaces_after"),
    [
        ({"drop_after_apply_rate": 1.0}, Status.SUCCEEDED, 2),
        ({"late_after_apply_rate": 1.0, "late_seconds": 2.0}, Status.SUCCEEDED, 2),
        ({"error_rate": 1.0, "error_statuses": [502], "error_methods": ["POST"]}, Status.FAILED, 1),
    ],
)
def test_a_lost_answer_is_unknown_then_reconciled_never_re_sent(
    sim, world, submit, scp, fault, expected, interfaces_after
):
    sim.faults(**fault)
    request = submit(**by_subnet(world))
    assert request.status == expected, request.status_reason
    assert len(sim.attach_posts()) == 1  # never a second POST
    assert len(scp.list_server_interfaces(request.server_id)) == interfaces_after
    sequence = actions(request)
    assert "interface_request.unknown" in sequence and "interface_request.reconciled" in sequence
    if expected == Status.FAILED:
        assert request.status_reason.startswith("Not applied")


def test_reconcile_refuses_a_request_that_is_not_unknown(sim, world, submit):
    from portal.interfaces.errors import InvalidState

    request = submit(**by_subnet(world))
    with pytest.raises(InvalidState):
        services.interface_request_reconcile(request_id=request.pk)


def test_parameters_never_change_after_submission(sim, world, submit):
    request = submit(**by_subnet(world))
    request.subnet_id = "other"
    with pytest.raises(FrozenParametersError):
        request.save()
    with pytest.raises(FrozenParametersError):
        request.save(update_fields=["fixed_ips"])


def test_live_checks_refuse_before_anything_is_stored(sim, world, requester):
    with pytest.raises(AttachRejected) as raised:
        services.interface_request_submit(
            requester=requester,
            idempotency_key=uuid.uuid4(),
            justification="x",
            **by_subnet(world, fixed_ips=[world.ports["web-01-eth0"].fixed_ip_address]),
        )
    assert "already in use" in raised.value.summary
    assert InterfaceRequest.objects.count() == 0 and sim.attach_posts() == []


def test_a_user_without_a_role_cannot_submit_and_the_refusal_is_audited(sim, world, django_user_model):
    nobody = django_user_model.objects.create_user(username="nobody", password="x")
    with pytest.raises(NotAllowed):
        services.interface_request_submit(
            requester=nobody, idempotency_key=uuid.uuid4(), justification="x", **by_subnet(world)
        )
    assert AuditEvent.objects.filter(action="interface_request.submit", outcome="denied", actor_name="nobody").exists()


def test_cancel_only_by_the_requester_and_only_before_the_claim(sim, world, requester, other_requester):
    request = services.interface_request_submit(
        requester=requester, idempotency_key=uuid.uuid4(), justification="x", **by_subnet(world)
    )
    with pytest.raises(NotAllowed):
        services.interface_request_cancel(request=request, user=other_requester)
    services.interface_request_cancel(request=request, user=requester)
    assert request.status == Status.CANCELLED
    services.interface_request_execute(request_id=request.pk)  # a cancelled request is never executed
    assert sim.attach_posts() == []
    with pytest.raises(NotAllowed):
        services.interface_request_cancel(request=request, user=requester)


def test_no_secret_or_signature_reaches_the_audit_log(sim, world, submit):
    sim.faults(drop_after_apply_rate=1.0)
    submit(**by_subnet(world, fixed_ips=["192.168.10.43"]))
    secret = settings.CONFIG.scp_secret_key.get_secret_value()
    access_key = settings.CONFIG.scp_access_key
    calls = AuditEvent.objects.filter(action="scp.call")
    assert calls.count() >= 5
    for event in AuditEvent.objects.all():
        text = repr(event.payload) + event.user_agent
        assert secret not in text and "Scp-Signature" not in text and access_key not in text
    assert {e.payload["access_key"] for e in calls} == {"…" + access_key[-4:]}
