"""Carrying out an approved request exactly once: claim, re-validate, write ahead, send, then settle or look later.

Generic over operations: the operation says how to re-validate, what to send and when it has settled; this
module owns the claim, SCP's API version, the retries while nothing was sent, the lost answer, and the follow-up
looks that never hold a worker.
"""

from __future__ import annotations

import contextlib
import datetime as dt

from django.conf import settings
from django.db import models, transaction
from django.utils.translation import gettext as _

from portal.audit.outbox import effect_add
from portal.audit.services import record_event
from portal.core.scp import scp_client
from portal.core.version_watch import version_refusal
from portal.identity.services import in_language_of
from portal.scp.client import ScpClient
from portal.scp.errors import ScpHttpError, ScpNotSent, ScpOutcomeUnknown, ScpResponseInvalid, ScpServerError

from ..errors import AttachRejected, InvalidState, ScpUnavailable
from ..lifecycle import START_EXECUTION, transition
from ..models import InterfaceRequest, ServerSlot, Status
from .checks import BY_EXECUTION, check_record, standing_plan
from .common import _now, defer, fail, follow_up_later, scp_calls_for, settle
from .reconciliation import interface_request_reconcile
from .submission import request_preview


def enqueue_execution(*, request_id: int) -> None:
    """Start the request's execution (through the outbox: the claim makes a second start harmless)."""
    kind, args = START_EXECUTION
    effect_add(kind, interface_request_id=request_id, args=args)


def requests_resume_due(*, now: dt.datetime | None = None) -> int:
    """Start every approved request whose backoff (or wait for its server) is over, or whose task was lost
    (approved longer than the execution lease ago and never claimed: its worker died). The claim makes a second
    start harmless."""
    now = now or _now()
    lost = now - dt.timedelta(seconds=settings.CONFIG.execution_lease_seconds)
    due = InterfaceRequest.objects.filter(status=Status.APPROVED).filter(
        models.Q(next_attempt_at__lte=now) | models.Q(next_attempt_at__isnull=True, updated_at__lt=lost)
    )
    ids = list(due.values_list("pk", flat=True))
    for request_id in ids:
        with transaction.atomic():
            InterfaceRequest.objects.filter(pk=request_id, status=Status.APPROVED).update(next_attempt_at=_now())
            enqueue_execution(request_id=request_id)
    return len(ids)


def server_writes_resume(*, server_id: str) -> int | None:
    """A write on `server_id` has settled (or a waiting one went): start the oldest request waiting for the
    server. Its claim decides whether it may go; returns its id, None when nobody waits."""
    waiting = _waiting_on(server_id).order_by("pk").values_list("pk", flat=True).first()
    if waiting is None:
        return None
    with transaction.atomic():
        InterfaceRequest.objects.filter(pk=waiting, status=Status.APPROVED).update(next_attempt_at=_now())
        enqueue_execution(request_id=waiting)
    return waiting


def _waiting_on(server_id: str) -> models.QuerySet[InterfaceRequest]:
    """The approved requests waiting for their server to take their write."""
    return InterfaceRequest.objects.filter(server_id=server_id, status=Status.APPROVED, waits_for__isnull=False)


def _answered(request: InterfaceRequest) -> None:
    """SCP answered the write: what it made is known, so the server may take its next write (the oldest waiting
    one starts) while this one settles."""
    if InterfaceRequest.objects.filter(pk=request.pk, answered_at__isnull=True).update(answered_at=_now()):
        server_writes_resume(server_id=request.server_id)


def _blocker(request: InterfaceRequest) -> InterfaceRequest | None:
    """What this request must wait for: another write on its server whose outcome is open (claimed and not yet
    answered, or unknown), else an older request already waiting there (first come, first served); None: it may
    go."""
    others = InterfaceRequest.objects.filter(server_id=request.server_id).exclude(pk=request.pk).order_by("pk")
    open_ = models.Q(status=Status.UNKNOWN) | models.Q(status=Status.EXECUTING, answered_at__isnull=True)
    return (
        others.filter(open_).first() or _waiting_on(request.server_id).filter(pk__lt=request.pk).order_by("pk").first()
    )


def _claim(request: InterfaceRequest, now: dt.datetime) -> bool:
    """Claim the request if it is due and its server has no write in flight; otherwise, if it is due, it waits
    (its page says for which request), and starts again when that one settles."""
    due = models.Q(next_attempt_at__isnull=True) | models.Q(next_attempt_at__lte=now)
    if not InterfaceRequest.objects.filter(due, pk=request.pk, status=Status.APPROVED).exists():
        # Someone else claimed it, it was cancelled, or it is waiting out a backoff (its own deferred start, or
        # the scheduler's sweep, runs it then): nothing to do now.
        return False
    ServerSlot.objects.get_or_create(server_id=request.server_id)
    with transaction.atomic():
        # The server's row, locked until this transaction ends: of two claims on one server, one sees the other.
        ServerSlot.objects.filter(pk=request.server_id).update(claimed_at=now)
        blocker = _blocker(request)
        if blocker is None:
            claimed = transition(
                request, "claim", where=due, claimed_at=now, next_attempt_at=None, waits_for=None, answered_at=None
            )
            if claimed:  # whoever waits on the server now waits for this one
                for waiting in _waiting_on(request.server_id):
                    with in_language_of(waiting.requester_id):
                        InterfaceRequest.objects.filter(pk=waiting.pk).update(
                            waits_for=request, status_reason=_waiting_reason(request)
                        )
            return claimed
        recheck = now + dt.timedelta(seconds=settings.CONFIG.execution_lease_seconds)  # should a start be lost
        if request.waits_for_id == blocker.pk:
            InterfaceRequest.objects.filter(pk=request.pk, status=Status.APPROVED).update(next_attempt_at=recheck)
            return False
        payload = {"waits_for": blocker.pk}
        transition(
            request, "wait", where=due, reason=_waiting_reason(blocker), payload=payload,
            waits_for=blocker, next_attempt_at=recheck,
        )  # fmt: skip
        return False


def _waiting_reason(blocker: InterfaceRequest) -> str:
    return _(
        "Waits for request %(n)d to settle on this server: the portal makes one change at a time on a server, so "
        "that the outcome of each is known. It starts by itself."
    ) % {"n": blocker.pk}


def interface_request_execute(*, request_id: int, client: ScpClient | None = None) -> InterfaceRequest | None:
    """Claim an approved request and carry it out exactly once: re-validate, write ahead, call, settle."""
    request = InterfaceRequest.objects.filter(pk=request_id).first()
    if request is None:
        return None
    with in_language_of(request.requester_id):  # what it writes (reasons, emails) is for the requester
        return _execute(request, client)


def _execute(request: InterfaceRequest, client: ScpClient | None) -> InterfaceRequest:
    if not _claim(request, _now()):
        request.refresh_from_db()
        return request
    refusal = version_refusal()
    if refusal is not None:
        reason = _("Not sent: %(why)s You can submit again once it is.") % {"why": refusal}
        return fail(request, reason=reason, payload={"stage": "api_version", "sent": False})
    client = client or scp_client()
    with scp_calls_for(request):
        return _send(request, client)


def _send(request: InterfaceRequest, client: ScpClient) -> InterfaceRequest:
    operation = request.operation
    # The check the request was accepted on while it stands (services.checks), else the same checks again now.
    plan = standing_plan(request)
    if plan is not None and request.checked_at is not None:
        check = check_record(request.checked_at, _check_by(request))
    else:
        check = check_record(_now(), BY_EXECUTION)
        try:
            plan = operation.revalidate(client=client, request=request)
        except AttachRejected as exc:
            reason = _("No longer possible: %(why)s") % {"why": exc.summary}
            return fail(request, reason=reason, payload={"stage": "revalidation", "sent": False})
        except ScpUnavailable as exc:
            return defer(request, reason=str(exc), payload={"stage": "revalidation", "sent": False})
    ports_before = sorted(i.port_id for i in plan.interfaces or [])
    # Write-ahead: committed before the call, so a crash after it leaves evidence, never silence. The snapshot
    # commits with it: a request without one sent nothing, and is run again (see reconciliation).
    with transaction.atomic():
        InterfaceRequest.objects.filter(pk=request.pk).update(ports_before=ports_before)
        record_event(
            action=operation.intent_action,
            payload={
                **request_preview(request=request, client=client),
                "ports_before": ports_before,
                "check": check,
                **operation.intent_payload(plan),
            },
            interface_request_id=request.pk,
            target=request.server_id,
        )
    request.ports_before = ports_before
    try:
        settlement = operation.send(client=client, request=request, plan=plan, answered=lambda: _answered(request))
        _answered(request)  # (once only: an operation that said so already changes nothing here)
    except ScpNotSent:
        return defer(request, reason=_("SCP could not be reached."), payload={"stage": operation.name, "sent": False})
    except (ScpOutcomeUnknown, ScpResponseInvalid, ScpServerError) as exc:
        reason = _("SCP's answer was lost or unusable (%(error)s); checking the server.") % {
            "error": type(exc).__name__
        }
        transition(request, "lose_answer", reason=reason)
        return interface_request_reconcile(request_id=request.pk, client=client)
    except ScpHttpError as exc:
        payload = {"status": exc.status, "code": exc.code, "detail": exc.detail}
        return fail(request, reason=operation.refusal_reason(request, exc), payload=payload)
    if settlement is None and follow_up_later(request.pk):
        return request  # a follow-up looks later; this worker is free for the next request
    settle(request, settlement or operation.wait(client=client, request=request))
    return request


def _check_by(request: InterfaceRequest) -> str:
    facts = request.check_facts
    return str(facts.get("by", "")) if isinstance(facts, dict) else ""


def interface_request_follow_up(*, request_id: int, attempt: int, client: ScpClient | None = None):
    """Look once at a request in flight: settle an executing one when its operation says it has settled, or when
    the settle time is over; reconcile an unknown one (a write not found yet, inside its late-apply window);
    otherwise look again later. Safe to run twice: settling is a conditional transition, and a request that has
    moved on is left alone."""
    request = InterfaceRequest.objects.filter(pk=request_id).first()
    if request is not None and request.status == Status.UNKNOWN:
        with contextlib.suppress(InvalidState):  # settled meanwhile by another look
            return interface_request_reconcile(request_id=request_id, client=client)
        return request
    if request is None or request.status != Status.EXECUTING or request.ports_before is None:
        return request
    with in_language_of(request.requester_id), scp_calls_for(request):
        over = request.claimed_at is None or _now() >= request.claimed_at + dt.timedelta(
            seconds=settings.CONFIG.scp_settle_timeout
        )
        settlement = request.operation.look(client=client or scp_client(), request=request, over=over)
        if settlement is not None:
            settle(request, settlement)
            return request
    follow_up_later(request.pk, attempt + 1)
    return request
