"""The outbox: effects written with their change, delivered at least once, idempotent, retried, visible."""

import datetime as dt
import uuid

import pytest
from django.core import mail
from django.utils import timezone

from portal.audit import outbox
from portal.audit.models import AuditEvent, Effect
from portal.audit.outbox import effect_deliver, effects_backlog, effects_deliver_due
from portal.interfaces import services
from portal.interfaces.lifecycle import SUBMITTED_EFFECTS, TRANSITIONS
from portal.interfaces.models import Status
from portal.interfaces.services.decisions import request_decide


def test_every_effect_a_transition_writes_has_a_handler():
    kinds = {kind for step in TRANSITIONS.values() for kind, _ in step.effects} | {k for k, _ in SUBMITTED_EFFECTS}
    assert kinds and kinds <= set(outbox.HANDLERS)


def test_an_effect_of_an_unknown_kind_is_refused_where_it_is_written(db):
    with pytest.raises(LookupError, match="no handler"):
        outbox.effect_add("nobody.handles_this")


def test_an_automatic_approval_is_a_transition_that_starts_the_request_and_tells_the_requester(
    sim, world, requester, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        request = services.interface_request_submit(
            requester=requester,
            idempotency_key=uuid.uuid4(),
            justification="x",
            server_id=world.servers["web-01"].id,
            mode="port",
            port_id=world.spare_port().id,
        )
    request.refresh_from_db()
    assert request.status == Status.SUCCEEDED and request.expires_at is None
    approved = AuditEvent.objects.get(interface_request_id=request.pk, action="approval.auto_approved")
    assert approved.payload["from"] == "pending_approval" and approved.payload["to"] == "approved"
    assert [m.subject for m in mail.outbox] == [f"Request {request.pk} approved", f"Request {request.pk}: succeeded"]
    assert "approved automatically by the policy default" in mail.outbox[0].body
    assert set(Effect.objects.values_list("kind", flat=True)) == {
        "interfaces.start_execution",
        "approvals.notify_requester",
        "interfaces.server_free",  # it settled: the next write on its server may go
    }
    assert not Effect.objects.filter(delivered_at=None).exists()


def test_a_failing_effect_never_undoes_the_decision_and_is_tried_again_until_it_is_delivered(
    pending, approver, settings, django_capture_on_commit_callbacks
):
    working = settings.MAILERS
    settings.MAILERS = {"default": {"BACKEND": "tests.approvals.broken_mail.BrokenBackend"}}
    request = pending()
    with django_capture_on_commit_callbacks(execute=True):
        request_decide(
            request=request, user=approver, approve=True, comment="ok", parameters_digest=request.parameters_digest
        )
    request.refresh_from_db()
    assert request.status == Status.SUCCEEDED
    failing = Effect.objects.filter(kind="approvals.notify_requester", delivered_at=None)
    assert failing.count() == 2 and all(e.attempts == 1 and "mail server down" in e.last_error for e in failing)
    assert all(e.due_at > timezone.now() for e in failing)  # backing off
    failures = AuditEvent.objects.filter(action="effect.failed", interface_request_id=request.pk)
    assert failures.count() == 2 and failures.first().payload["retry_in_seconds"] == outbox.BACKOFF_BASE_SECONDS
    assert effects_backlog()["failing"] == 2

    settings.MAILERS = working  # the mail server is back
    assert effects_deliver_due() == 0  # not due yet: the backoff runs
    Effect.objects.filter(pk__in=[e.pk for e in failing]).update(due_at=timezone.now() - dt.timedelta(minutes=5))
    assert effects_deliver_due() == 2
    assert sorted(m.subject for m in mail.outbox) == [
        f"Request {request.pk} approved",
        f"Request {request.pk}: succeeded",
    ]
    assert effects_backlog()["failing"] == 0
    # (the approvers' mail of the submission is still there: this test never ran that commit's delivery)
    assert list(Effect.objects.filter(delivered_at=None).values_list("kind", flat=True)) == [
        "approvals.notify_approvers"
    ]


def test_a_repeated_delivery_mails_nobody_twice(pending, approver, django_capture_on_commit_callbacks):
    request = pending()
    with django_capture_on_commit_callbacks(execute=True):
        request_decide(
            request=request, user=approver, approve=True, comment="ok", parameters_digest=request.parameters_digest
        )
    sent = len(mail.outbox)
    approved_mail = Effect.objects.get(kind="approvals.notify_requester", args={"about": "approved"})
    # As if its worker had died after sending, before marking it delivered: the lease ran out, the sweep repeats it.
    Effect.objects.filter(pk=approved_mail.pk).update(delivered_at=None, locked_until=None)
    assert effect_deliver(effect_id=approved_mail.pk) == "delivered"
    assert len(mail.outbox) == sent


def test_an_effect_that_keeps_failing_is_given_up_visibly(db, settings):
    calls = []

    def broken(effect):
        calls.append(effect.pk)
        raise RuntimeError("always broken")

    outbox.register("tests.broken", broken)
    try:
        effect = outbox.effect_add("tests.broken", interface_request_id=7)
        for _ in range(outbox.MAX_ATTEMPTS):
            Effect.objects.filter(pk=effect.pk).update(due_at=timezone.now())
            effect_deliver(effect_id=effect.pk)
    finally:
        del outbox.HANDLERS["tests.broken"]
    effect.refresh_from_db()
    assert len(calls) == outbox.MAX_ATTEMPTS and effect.given_up_at is not None and effect.delivered_at is None
    assert effect_deliver(effect_id=effect.pk) == "skipped"
    assert effects_backlog()["given_up"] == 1
    last = AuditEvent.objects.filter(action="effect.failed").first()
    assert last.payload["given_up"] is True and last.payload["retry_in_seconds"] is None


def test_the_admin_lists_the_outbox_by_state_and_changes_nothing(admin_client, db):
    now = timezone.now()
    Effect.objects.create(kind="approvals.notify_requester", created_at=now, due_at=now, delivered_at=now)
    Effect.objects.create(kind="interfaces.start_execution", created_at=now, due_at=now, attempts=2, last_error="X: y")

    def listed(state):
        page = admin_client.get(f"/admin/audit/effect/?state={state}").content.decode()
        start = page.index('id="result_list"')
        return page[start : page.index("</table>", start)]

    failing = listed("failing")
    assert "interfaces.start_execution" in failing and "approvals.notify_requester" not in failing
    assert "failing, tried again later" in failing
    delivered = listed("delivered")
    assert "approvals.notify_requester" in delivered and "interfaces.start_execution" not in delivered
    assert admin_client.get("/admin/audit/effect/add/").status_code == 403


def test_delivered_effects_are_forgotten_after_a_while_and_undelivered_ones_never(db):
    now = timezone.now()
    old = now - dt.timedelta(days=outbox.KEEP_DELIVERED_DAYS + 1)
    Effect.objects.create(kind="audit.verify", created_at=old, due_at=old, delivered_at=old)
    Effect.objects.create(kind="audit.verify", created_at=old, due_at=old)  # still to do, however old
    Effect.objects.create(kind="audit.verify", created_at=now, due_at=now, delivered_at=now)
    assert outbox.effects_prune() == 1
    assert Effect.objects.filter(delivered_at=None).count() == 1 and Effect.objects.count() == 2
