"""The request lifecycle: one transition table, and one function that applies a transition.

Every change of a request's state goes through `transition()`: a conditional update (so racing approvers,
workers and reconcilers can never both win), its audit event in the same transaction, and the side effects
that must follow the commit (start execution, tell people). Approvals decide *which* transition happens;
they never move a request by hand.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from portal.approvals import notifications
from portal.audit.events import AuditAction
from portal.audit.models import Outcome
from portal.audit.services import record_event

from .models import FINAL_STATUSES, FixedIpHold, InterfaceRequest, Status


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    target: str
    action: AuditAction
    outcome: str


def _t(sources: set[str], target: str, action: AuditAction, outcome: str) -> Transition:
    return Transition(frozenset(sources), target, action, outcome)


PENDING, APPROVED, EXECUTING, UNKNOWN = Status.PENDING_APPROVAL, Status.APPROVED, Status.EXECUTING, Status.UNKNOWN

TRANSITIONS: dict[str, Transition] = {
    # approvals
    "complete_step": _t({PENDING}, PENDING, AuditAction.STEP_COMPLETED, Outcome.SUCCESS),
    "approve": _t({PENDING}, APPROVED, AuditAction.APPROVED, Outcome.SUCCESS),
    "reject": _t({PENDING}, Status.REJECTED, AuditAction.REJECTED, Outcome.SUCCESS),
    "expire": _t({PENDING}, Status.EXPIRED, AuditAction.EXPIRED, Outcome.FAILURE),
    "cancel": _t({PENDING, APPROVED}, Status.CANCELLED, AuditAction.CANCELLED, Outcome.SUCCESS),
    # execution
    "claim": _t({APPROVED}, EXECUTING, AuditAction.CLAIMED, Outcome.SUCCESS),
    "defer": _t({EXECUTING}, APPROVED, AuditAction.RETRY_SCHEDULED, Outcome.PENDING),
    "fail": _t({EXECUTING}, Status.FAILED, AuditAction.FAILED, Outcome.FAILURE),
    "lose_answer": _t({EXECUTING}, UNKNOWN, AuditAction.UNKNOWN, Outcome.UNKNOWN),
    "succeed": _t({EXECUTING, UNKNOWN}, Status.SUCCEEDED, AuditAction.SUCCEEDED, Outcome.SUCCESS),
    "port_error": _t({EXECUTING, UNKNOWN}, Status.FAILED, AuditAction.FAILED, Outcome.FAILURE),
    "not_applied": _t({EXECUTING, UNKNOWN}, Status.FAILED, AuditAction.RECONCILED, Outcome.FAILURE),
    # a write found not applied that SCP carried out later after all (see services.requests_watch_late)
    "applied_late": _t({Status.FAILED}, Status.SUCCEEDED, AuditAction.APPLIED_LATE, Outcome.SUCCESS),
    "applied_late_in_error": _t({Status.FAILED}, Status.FAILED, AuditAction.APPLIED_LATE, Outcome.FAILURE),
}


def _now() -> dt.datetime:
    return timezone.now()


def transition(
    request: InterfaceRequest,
    event: str,
    *,
    actor=None,
    reason: str = "",
    payload: dict[str, Any] | None = None,
    where: Q | None = None,
    **fields: Any,
) -> bool:
    """Apply `event` to `request` with one conditional update and its audit event, atomically.

    Returns False (and changes nothing) when the request is no longer in one of the event's source states
    (or no longer matches `where`). `fields` are written with the state; `request` is refreshed.
    """
    step = TRANSITIONS[event]
    with transaction.atomic():
        changed = InterfaceRequest.objects.filter(where or Q(), pk=request.pk, status__in=step.sources).update(
            status=step.target, status_reason=reason, updated_at=_now(), **fields
        )
        if not changed:
            return False
        if step.target in FINAL_STATUSES:  # its fixed IPs are SCP's to guard from now on (or free again)
            FixedIpHold.objects.filter(request_id=request.pk).delete()
        record_event(
            action=step.action,
            outcome=step.outcome,
            payload={"from": request.status, "to": step.target, "reason": reason, **(payload or {})},
            interface_request_id=request.pk,
            target=request.server_id,
            actor=actor,
        )
        for effect in _AFTER.get(event, ()):
            transaction.on_commit(lambda effect=effect: effect(request.pk))
    request.refresh_from_db()
    return True


def _enqueue_execution(request_id: int) -> None:
    from .tasks import execute_interface_request

    execute_interface_request.enqueue(request_id)


def _schedule_retry(request_id: int) -> None:
    """Run the deferred request again when its backoff is over (the scheduler's sweep is the safety net)."""
    from django.tasks import default_task_backend

    from .tasks import execute_interface_request

    if not default_task_backend.supports_defer:
        return  # e.g. the immediate backend in tests: the sweep (requests_resume_due) picks it up
    request = InterfaceRequest.objects.filter(pk=request_id).only("next_attempt_at").first()
    if request is not None and request.next_attempt_at:
        execute_interface_request.using(run_after=request.next_attempt_at).enqueue(request_id)


def _notify(kind: str):
    def effect(request_id: int) -> None:
        getattr(notifications, kind)(request_id=request_id)

    return effect


_AFTER = {
    "complete_step": (_notify("notify_approvers"),),
    "approve": (_enqueue_execution, _notify("notify_requester_approved")),
    "reject": (_notify("notify_requester_rejected"),),
    "expire": (_notify("notify_requester_expired"),),
    "defer": (_schedule_retry,),
    "fail": (_notify("notify_requester_result"),),
    "succeed": (_notify("notify_requester_result"),),
    "port_error": (_notify("notify_requester_result"),),
    "not_applied": (_notify("notify_requester_result"),),
    "applied_late": (_notify("notify_requester_result"),),
    "applied_late_in_error": (_notify("notify_requester_result"),),
}
