"""Carrying out an approved request exactly once: claim, re-validate, write ahead, send, then settle or look later.

Generic over operations: the operation says how to re-validate, what to send and when it has settled; this
module owns the claim, SCP's API version, the retries while nothing was sent, the lost answer, and the follow-up
looks that never hold a worker.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

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

from ..errors import AttachRejected, ScpUnavailable
from ..lifecycle import START_EXECUTION, transition
from ..models import InterfaceRequest, Status
from .common import _now, scp_calls_for, settle
from .reconciliation import interface_request_reconcile
from .submission import request_preview

# An approved request that cannot reach SCP before sending anything waits and tries again: 30 s, 1, 2, 4, 8,
# then every 15 minutes, for about an hour and a half in all, before it fails with the reason.
RETRY_BASE_SECONDS = 30
RETRY_CAP_SECONDS = 900
MAX_ATTEMPTS = 9
FOLLOW_UP_FIRST_SECONDS = 0.25
# The task that looks once more (interfaces.tasks.follow_up_interface_request), set by the app at start-up:
# services never import tasks.
FOLLOW_UP_TASK: Any = None


def enqueue_execution(*, request_id: int) -> None:
    """Start the request's execution (through the outbox: the claim makes a second start harmless)."""
    kind, args = START_EXECUTION
    effect_add(kind, interface_request_id=request_id, args=args)


def requests_resume_due(*, now: dt.datetime | None = None) -> int:
    """Start every approved request whose backoff is over, or whose task was lost (approved longer than the
    execution lease ago and never claimed: its worker died). The claim makes a second start harmless."""
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


def _fail(request: InterfaceRequest, *, reason: str, payload: dict[str, Any]) -> InterfaceRequest:
    """End an executing request as failed, with the reason the requester will read."""
    transition(request, "fail", reason=reason, payload=payload)
    return request


def _defer(request: InterfaceRequest, *, reason: str, payload: dict[str, Any]) -> InterfaceRequest:
    """SCP could not be reached and nothing was sent: back to approved, tried again after a backoff."""
    attempts = request.attempts + 1
    if attempts >= MAX_ATTEMPTS:
        reason = _("%(reason)s The portal tried %(n)d times over about an hour and a half; nothing was sent.") % {
            "reason": reason,
            "n": attempts,
        }
        return _fail(request, reason=reason + " " + _("You can submit again."), payload=payload)
    delay = min(RETRY_BASE_SECONDS * 2 ** (attempts - 1), RETRY_CAP_SECONDS)
    next_at = _now() + dt.timedelta(seconds=delay)
    transition(
        request,
        "defer",
        reason=_("%(reason)s Nothing was sent; the portal tries again at %(time)s UTC (attempt %(n)d).")
        % {"reason": reason, "time": f"{next_at:%H:%M:%S}", "n": attempts + 1},
        payload={**payload, "attempt": attempts, "retry_in_seconds": delay},
        attempts=attempts,
        next_attempt_at=next_at,
        effects_due_at=next_at,
    )
    return request


def interface_request_execute(*, request_id: int, client: ScpClient | None = None) -> InterfaceRequest | None:
    """Claim an approved request and carry it out exactly once: re-validate, write ahead, call, settle."""
    request = InterfaceRequest.objects.filter(pk=request_id).first()
    if request is None:
        return None
    with in_language_of(request.requester_id):  # what it writes (reasons, emails) is for the requester
        return _execute(request, client)


def _execute(request: InterfaceRequest, client: ScpClient | None) -> InterfaceRequest:
    now = _now()
    due = models.Q(next_attempt_at__isnull=True) | models.Q(next_attempt_at__lte=now)
    if not transition(request, "claim", where=due, claimed_at=now, next_attempt_at=None):
        # Someone else claimed it, it was cancelled, or it is waiting out a backoff (its own deferred start, or
        # the scheduler's sweep, runs it then): nothing to do now.
        return request
    refusal = version_refusal()
    if refusal is not None:
        reason = _("Not sent: %(why)s You can submit again once it is.") % {"why": refusal}
        return _fail(request, reason=reason, payload={"stage": "api_version", "sent": False})
    client = client or scp_client()
    with scp_calls_for(request):
        return _send(request, client)


def _send(request: InterfaceRequest, client: ScpClient) -> InterfaceRequest:
    operation = request.operation
    try:
        plan = operation.revalidate(client=client, request=request)
    except AttachRejected as exc:
        reason = _("No longer possible: %(why)s") % {"why": exc.summary}
        return _fail(request, reason=reason, payload={"stage": "revalidation", "sent": False})
    except ScpUnavailable as exc:
        return _defer(request, reason=str(exc), payload={"stage": "revalidation", "sent": False})
    ports_before = sorted(i.port_id for i in plan.interfaces or [])
    InterfaceRequest.objects.filter(pk=request.pk).update(ports_before=ports_before)
    request.ports_before = ports_before
    # Write-ahead: committed before the call, so a crash after it leaves evidence, never silence.
    record_event(
        action=operation.intent_action,
        payload={
            **request_preview(request=request, client=client),
            "ports_before": ports_before,
            **operation.intent_payload(plan),
        },
        interface_request_id=request.pk,
        target=request.server_id,
    )
    try:
        settlement = operation.send(client=client, request=request, plan=plan)
    except ScpNotSent:
        return _defer(request, reason=_("SCP could not be reached."), payload={"stage": operation.name, "sent": False})
    except (ScpOutcomeUnknown, ScpResponseInvalid, ScpServerError) as exc:
        reason = _("SCP's answer was lost or unusable (%(error)s); checking the server.") % {
            "error": type(exc).__name__
        }
        transition(request, "lose_answer", reason=reason)
        return interface_request_reconcile(request_id=request.pk, client=client)
    except ScpHttpError as exc:
        payload = {"status": exc.status, "code": exc.code, "detail": exc.detail}
        return _fail(request, reason=operation.refusal_reason(request, exc), payload=payload)
    if settlement is None and _follow_up_later(request.pk):
        return request  # a follow-up looks later; this worker is free for the next request
    settle(request, settlement or operation.wait(client=client, request=request))
    return request


def _follow_up_later(request_id: int, attempt: int = 1) -> bool:
    """Schedule the next look at an executing request, with backoff capped at SCP_POLL_INTERVAL. A look lost with
    its worker costs nothing: reconciliation settles a request executing past its lease. False when the task
    backend cannot run anything later (the tests' immediate one): the caller waits in place."""
    from django.tasks import default_task_backend

    if not default_task_backend.supports_defer or FOLLOW_UP_TASK is None:
        return False
    delay = min(FOLLOW_UP_FIRST_SECONDS * 2 ** (attempt - 1), settings.CONFIG.scp_poll_interval)
    FOLLOW_UP_TASK.using(run_after=_now() + dt.timedelta(seconds=delay)).enqueue(request_id, attempt)
    return True


def interface_request_follow_up(*, request_id: int, attempt: int, client: ScpClient | None = None):
    """Look once at an executing request: settle it when its operation says it has settled, or when the settle
    time is over; otherwise look again later. Safe to run twice: settling is a conditional transition, and a
    request that has moved on is left alone."""
    request = InterfaceRequest.objects.filter(pk=request_id).first()
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
    _follow_up_later(request.pk, attempt + 1)
    return request
