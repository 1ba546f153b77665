"""Detach under the same lifecycle as attach: validation, policies, write-ahead, one DELETE, polling, faults."""

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from portal.approvals.models import ApprovalPolicy, PolicyOutcome
from portal.audit.models import AuditEvent
from portal.interfaces import services
from portal.interfaces.errors import AttachRejected
from portal.interfaces.models import Action, InterfaceRequest, Status
from portal.scp import schemas

from .conftest import age_check


def deletes(sim):
    return [r for r in sim.requests() if r["method"] == "DELETE"]


@pytest.fixture
def attached(sim, world, scp):
    """A second interface on web-01, made by attaching a new port on prod-db; returns its port id."""
    body = schemas.ServerInterfaceCreateRequest(subnet_id=world.subnets["prod-db"].id)
    made = scp.attach_interface(world.servers["web-01"].id, body)
    sim.clear_log()
    return made.port_id


def submit_detach(requester, world, port_id, **extra):
    return services.detach_request_submit(
        requester=requester,
        idempotency_key=uuid.uuid4(),
        justification="retire it",
        server_id=world.servers["web-01"].id,
        port_id=port_id,
        **extra,
    )


def run(request):
    services.interface_request_execute(request_id=request.pk)
    request.refresh_from_db()
    return request


def test_detach_end_to_end_deletes_the_port_the_attach_made(sim, world, requester, attached, scp):
    request = submit_detach(requester, world, attached)
    assert request.action == Action.DETACH and request.status == Status.APPROVED
    preview = services.request_preview(request=request)
    assert preview["method"] == "DELETE" and preview["path"].endswith(f"/interfaces/{attached}")
    assert preview["body"] is None
    request = run(request)
    assert request.status == Status.SUCCEEDED, request.status_reason
    assert request.result == {"detached_port_id": attached, "gone": True, "port_kept": False}
    assert len(deletes(sim)) == 1
    assert attached not in {i.port_id for i in scp.list_server_interfaces(request.server_id)}
    events = list(
        AuditEvent.objects.filter(interface_request_id=request.pk).order_by("seq").values_list("action", flat=True)
    )
    assert events.index("scp.detach.intent") < events.index("interface_request.succeeded")
    # The 404s it polled for are what it waited for: recorded as such, not as failures an auditor must look into.
    calls = AuditEvent.objects.filter(interface_request_id=request.pk, action="scp.call")
    awaited = [c for c in calls if c.payload["status"] == 404]
    assert awaited and all(c.outcome == "success" and c.payload["expected"] is True for c in awaited)
    assert not calls.filter(outcome="failure").exists()


def test_a_port_that_existed_before_is_kept_for_reuse(sim, world, requester, scp):
    port = world.spare_port()
    scp.attach_interface(world.servers["web-01"].id, schemas.ServerInterfaceCreateRequest(port_id=port.id))
    request = run(submit_detach(requester, world, port.id))
    assert request.status == Status.SUCCEEDED and request.result["port_kept"] is True
    assert not scp.get_port(port.id).is_attached


def test_the_default_interface_is_refused(sim, world, requester):
    with pytest.raises(AttachRejected) as refused:
        submit_detach(requester, world, world.ports["web-01-eth0"].id)
    assert refused.value.errors == {"port_id": ["This is the server's default interface; it cannot be detached."]}
    assert InterfaceRequest.objects.count() == 0 and deletes(sim) == []
    assert AuditEvent.objects.get(action="interface_request.invalid").payload["input"]["action"] == "detach"


def test_an_interface_another_open_request_is_changing_is_refused(sim, world, requester, attached, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"approval_default": "approver"})
    first = submit_detach(requester, world, attached)
    assert first.status == Status.PENDING_APPROVAL
    with pytest.raises(AttachRejected, match=f"Request {first.pk} is already changing this interface"):
        submit_detach(requester, world, attached)


def test_an_unknown_interface_is_refused(sim, world, requester):
    with pytest.raises(AttachRejected, match="not attached to this server"):
        submit_detach(requester, world, "no-such-port")


def test_a_policy_can_match_detach_only(sim, world, requester, attached, django_capture_on_commit_callbacks):
    from django.contrib.auth.models import Group

    policy = ApprovalPolicy.objects.create(
        name="detaches need security", action="detach", outcome=PolicyOutcome.REQUIRE_APPROVAL, order=1
    )
    policy.steps.create(order=1, required=1).groups.add(Group.objects.get_or_create(name="approver")[0])
    detach = submit_detach(requester, world, attached)
    assert detach.status == Status.PENDING_APPROVAL and detach.policy_name == "detaches need security"
    attach = services.interface_request_submit(
        requester=requester,
        idempotency_key=uuid.uuid4(),
        justification="x",
        server_id=world.servers["web-01"].id,
        mode="subnet",
        subnet_id=world.subnets["prod-app"].id,
    )
    assert attach.status == Status.APPROVED and attach.policy_name == "default"


def test_the_digest_binds_the_detach(sim, world, requester, attached):
    request = submit_detach(requester, world, attached)
    attach_like = InterfaceRequest(
        server_id=request.server_id, api_version=request.api_version, mode="port", port_id=request.port_id
    )
    assert request.parameters_digest != attach_like.parameters_digest


@pytest.mark.parametrize("fault", [{"drop_after_apply_rate": 1.0}, {"late_after_apply_rate": 1.0, "late_seconds": 3}])
def test_answer_lost_after_apply_is_reconciled_as_done_and_never_sent_twice(fault, sim, world, requester, attached):
    request = submit_detach(requester, world, attached)
    sim.faults(**fault)
    request = run(request)
    sim.faults()
    assert request.status == Status.SUCCEEDED, request.status_reason
    assert request.result["gone"] is True
    assert len(deletes(sim)) == 1
    assert AuditEvent.objects.filter(interface_request_id=request.pk, action="interface_request.reconciled").exists()


def test_5xx_before_apply_is_reconciled_as_not_applied_and_never_sent_twice(sim, world, requester, attached, scp):
    request = submit_detach(requester, world, attached)
    sim.faults(error_rate=1.0, error_methods=["DELETE"], error_statuses=[503])
    request = run(request)
    sim.faults()
    assert request.status == Status.FAILED and request.status_reason.startswith("Not applied")
    assert len(deletes(sim)) == 1
    assert scp.get_server_interface(request.server_id, attached).port_state in ("BUILD", "ACTIVE")  # still attached


def test_the_interface_gone_before_execution_fails_without_sending(sim, world, requester, attached, scp):
    request = submit_detach(requester, world, attached)
    age_check(request)  # approved a while later: the worker checks again
    scp.detach_interface(request.server_id, attached)  # someone else, outside the portal
    sim.clear_log()
    request = run(request)
    assert request.status == Status.FAILED and "No longer possible" in request.status_reason
    assert deletes(sim) == []


def test_a_detach_claimed_by_a_worker_that_died_before_sending_is_run_again(sim, world, requester, attached):
    request = submit_detach(requester, world, attached)
    long_ago = timezone.now() - dt.timedelta(hours=1)  # claimed, then its worker died before the write-ahead
    InterfaceRequest.objects.filter(pk=request.pk).update(status=Status.EXECUTING, claimed_at=long_ago)
    sim.clear_log()
    request = services.interface_request_reconcile(request_id=request.pk)
    assert request.status == Status.APPROVED and request.next_attempt_at is not None
    assert "stopped before sending anything" in request.status_reason and deletes(sim) == []
    InterfaceRequest.objects.filter(pk=request.pk).update(next_attempt_at=timezone.now())  # its retry is due
    request = services.interface_request_execute(request_id=request.pk)
    assert request.status == Status.SUCCEEDED and len(deletes(sim)) == 1


def test_a_detach_on_a_locked_server_is_refused_in_korean_words_for_detaching(sim, world, requester, attached):
    from django.utils import translation

    sim.set_server(world.servers["web-01"].id, locked=True)
    with translation.override("ko"), pytest.raises(AttachRejected) as refused:
        submit_detach(requester, world, attached)
    (reason,) = refused.value.errors["__all__"]
    assert "분리" in reason and "연결" not in reason  # "detach", never the attach refusal's "attach"
