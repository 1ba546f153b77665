"""Four-eyes rules, enforced in the services; every refusal is a clear message and a denied audit event."""

import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.core.management import call_command

from portal.approvals.models import ApprovalPolicy, PolicyOutcome
from portal.audit.models import AuditEvent
from portal.interfaces import services
from portal.interfaces.errors import NotAllowed
from portal.interfaces.models import InterfaceRequest, Status
from portal.interfaces.services.decisions import request_decide


def decide(request, user, approve=True, comment="ok", digest=None):
    return request_decide(
        request=request,
        user=user,
        approve=approve,
        comment=comment,
        parameters_digest=digest or request.parameters_digest,
    )


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("self-approval", "Nobody approves their own request"),
        ("not in the group", "Only members of approver"),
        ("decided twice", "only pending requests can be decided"),
        ("expired", "expired"),
        ("cancelled", "only pending requests can be decided"),
        ("rejected without reason", "Say why the request is rejected"),
        ("parameters changed", "not the ones you were shown"),
    ],
)
def test_refusals(pending, approver, second_approver, other_requester, django_user_model, case, message):
    request = pending()
    user, approve, digest, comment = approver, True, None, "ok"
    if case == "self-approval":
        request = pending(user=approver)
    elif case == "not in the group":
        user = other_requester
    elif case == "decided twice":
        decide(request, second_approver)
        request.refresh_from_db()
    elif case == "expired":
        InterfaceRequest.objects.filter(pk=request.pk).update(expires_at=request.created_at - dt.timedelta(seconds=1))
        request.refresh_from_db()
    elif case == "cancelled":
        services.interface_request_cancel(request=request, user=request.requester)
    elif case == "rejected without reason":
        approve, comment = False, "   "
    elif case == "parameters changed":
        digest = "0" * 64
    with pytest.raises(NotAllowed, match=message):
        decide(request, user, approve=approve, comment=comment, digest=digest)
    denial = AuditEvent.objects.filter(outcome="denied", interface_request_id=request.pk).last()
    assert denial.action.startswith("approval.") and denial.actor_name == user.username
    assert message.split()[0] in denial.payload["reason"]
    if case == "expired":
        request.refresh_from_db()
        assert request.status == Status.EXPIRED


def test_approval_executes_and_notifies(pending, approver, django_capture_on_commit_callbacks, sim):
    request = pending()
    assert request.status == Status.PENDING_APPROVAL and sim.attach_posts() == []
    with django_capture_on_commit_callbacks(execute=True):
        decide(request, approver, comment="fine by me")
    request.refresh_from_db()
    assert request.status == Status.SUCCEEDED and request.decided_by == approver
    assert len(sim.attach_posts()) == 1
    subjects = [m.subject for m in mail.outbox]
    assert subjects == [f"Request {request.pk} approved", f"Request {request.pk}: succeeded"]


def test_rejection_keeps_the_reason_for_the_requester(pending, approver, sim):
    request = pending()
    decide(request, approver, approve=False, comment="Use the storage VLAN instead")
    request.refresh_from_db()
    assert request.status == Status.REJECTED and "Use the storage VLAN instead" in request.status_reason
    assert sim.attach_posts() == []


def test_approvers_are_told_when_a_request_waits(
    sim, world, requester, approver, needs_approval, django_capture_on_commit_callbacks
):
    approver.email = "approver@example.com"
    approver.save()
    with django_capture_on_commit_callbacks(execute=True):
        import uuid

        request = services.interface_request_submit(
            requester=requester,
            idempotency_key=uuid.uuid4(),
            justification="x",
            server_id=world.servers["web-01"].id,
            mode="port",
            port_id=world.spare_port().id,
        )
    assert [m.to for m in mail.outbox] == [["approver@example.com"]]
    assert f"/requests/{request.pk}/" in mail.outbox[0].body


def test_a_broken_mail_server_never_blocks_a_decision(pending, approver, settings, django_capture_on_commit_callbacks):
    settings.MAILERS = {"default": {"BACKEND": "tests.approvals.broken_mail.BrokenBackend"}}
    request = pending()
    with django_capture_on_commit_callbacks(execute=True):
        decide(request, approver)
    request.refresh_from_db()
    assert request.status == Status.SUCCEEDED


def test_the_first_matching_policy_decides_and_is_named(sim, world, requester, approver):
    import uuid

    group = Group.objects.get(name="approver")
    policy = ApprovalPolicy.objects.create(
        name="prod fixed IPs",
        order=1,
        server_name_pattern="web-*",
        fixed_ips="with",
        outcome=PolicyOutcome.REQUIRE_APPROVAL,
    )
    policy.steps.create(order=1).groups.add(group)
    ApprovalPolicy.objects.create(
        name="web auto", order=2, server_name_pattern="web-*", outcome=PolicyOutcome.AUTO_APPROVE
    )

    def submit(**params):
        return services.interface_request_submit(
            requester=requester,
            idempotency_key=uuid.uuid4(),
            justification="x",
            mode="subnet",
            subnet_id=world.subnets["prod-db"].id,
            **params,
        )

    with_ips = submit(server_id=world.servers["web-01"].id, fixed_ips=["192.168.20.99"])
    without = submit(server_id=world.servers["web-10"].id)
    other = submit(server_id=world.servers["app-02"].id)
    assert (with_ips.status, with_ips.policy_name) == (Status.PENDING_APPROVAL, "prod fixed IPs")
    assert (without.status, without.policy_name) == (Status.APPROVED, "web auto")
    assert (other.status, other.policy_name) == (Status.APPROVED, "default")  # APPROVAL_DEFAULT=auto in tests
    submitted = AuditEvent.objects.get(action="interface_request.submitted", interface_request_id=with_ips.pk)
    assert submitted.payload["policy"] == "prod fixed IPs"


def test_cancel_after_the_claim_is_refused(pending, approver, requester):
    request = pending()
    decide(request, approver)
    InterfaceRequest.objects.filter(pk=request.pk).update(status=Status.EXECUTING)
    request.refresh_from_db()
    with pytest.raises(NotAllowed, match="can no longer be cancelled"):
        services.interface_request_cancel(request=request, user=requester)


def test_expire_requests_command(pending, capsys):
    request = pending()
    fresh = pending()
    InterfaceRequest.objects.filter(pk=request.pk).update(expires_at=request.created_at)
    call_command("expire_requests")
    assert "1 request(s) expired" in capsys.readouterr().out
    request.refresh_from_db()
    fresh.refresh_from_db()
    assert request.status == Status.EXPIRED and fresh.status == Status.PENDING_APPROVAL


def test_reconcile_command_settles_unknown_and_stuck_requests(sim, world, requester, scp, capsys):
    import uuid

    from portal.scp import schemas

    port = world.spare_port()
    made = []
    for mode_params in (
        {"mode": "port", "port_id": port.id},
        {"mode": "subnet", "subnet_id": world.subnets["prod-db"].id},
    ):
        made.append(
            services.interface_request_submit(
                requester=requester,
                idempotency_key=uuid.uuid4(),
                justification="x",
                server_id=world.servers["web-01"].id,
                **mode_params,
            )
        )
    applied, stuck = made
    scp.attach_interface(applied.server_id, schemas.ServerInterfaceCreateRequest(port_id=port.id))
    InterfaceRequest.objects.filter(pk=applied.pk).update(status=Status.UNKNOWN, ports_before=[])
    long_ago = applied.created_at - dt.timedelta(hours=2)
    InterfaceRequest.objects.filter(pk=stuck.pk).update(status=Status.EXECUTING, claimed_at=long_ago)
    call_command("reconcile")
    assert "1 request(s) settled" in capsys.readouterr().out
    applied.refresh_from_db()
    stuck.refresh_from_db()
    assert applied.status == Status.SUCCEEDED and applied.result_port_id == port.id
    # Stuck before its write-ahead: nothing was sent, so it is run again (after a backoff), not failed.
    assert stuck.status == Status.APPROVED and "stopped before sending anything" in stuck.status_reason
    assert sim.attach_posts() == [s for s in sim.attach_posts() if s["body"] == {"port_id": port.id}]


def test_a_line_break_in_a_server_name_never_breaks_or_drops_the_mail(
    sim, world, requester, approver, needs_approval, django_capture_on_commit_callbacks
):
    import uuid

    sim.set_server(world.servers["web-01"].id, name="web-01\r\nBcc: everyone@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        request = services.interface_request_submit(
            requester=requester,
            idempotency_key=uuid.uuid4(),
            justification="x",
            server_id=world.servers["web-01"].id,
            mode="port",
            port_id=world.spare_port().id,
        )
    assert len(mail.outbox) == 1
    subject = mail.outbox[0].subject
    assert "\n" not in subject and "\r" not in subject and subject.endswith(f"(request {request.pk})")
    assert mail.outbox[0].bcc == []


def test_a_mail_that_cannot_be_sent_is_audited(pending, approver, settings, django_capture_on_commit_callbacks):
    settings.MAILERS = {"default": {"BACKEND": "tests.approvals.broken_mail.BrokenBackend"}}
    with django_capture_on_commit_callbacks(execute=True):
        request = pending()
    failed = AuditEvent.objects.get(action="notification.failed")
    assert failed.interface_request_id == request.pk and failed.payload["recipients"] == 1


def test_a_rejection_reads_once_and_refused_clicks_stay_off_the_requesters_page(
    pending, approver, second_approver, requester, client
):
    from portal.interfaces.errors import NotAllowed
    from portal.interfaces.services.decisions import request_decide

    request = pending()
    with pytest.raises(NotAllowed):  # an approver's first click with a stale digest is refused
        request_decide(request=request, user=approver, approve=True, parameters_digest="0" * 64)
    request_decide(
        request=request,
        user=second_approver,
        approve=False,
        comment="Use the storage subnet instead",
        parameters_digest=request.parameters_digest,
    )
    client.force_login(requester)
    page = client.get(f"/requests/{request.pk}/").content.decode()
    assert page.count("Use the storage subnet instead") == 1
    assert "not the ones you were shown" not in page  # the refused click is in the audit log, not here
