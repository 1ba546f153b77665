"""The request lifecycle: one transition table, and one function that applies a transition.

Every change of a request's state goes through `transition()`: a conditional update (so racing approvers,
workers and reconcilers can never both win), its audit event, and the effects that must follow (start the
execution, tell people) written to the outbox, all in one transaction. A crash after the commit loses nothing:
the effects are rows the worker delivers. Approvals decide *which* transition happens; they never move a
request by hand. This module imports only the request models and the audit app.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from portal.audit.events import AuditAction
from portal.audit.models import Outcome
from portal.audit.outbox import effect_add
from portal.audit.services import record_event

from .models import FINAL_STATUSES, FixedIpHold, InterfaceRequest, Status

# The effects a transition writes: (kind, args). The handlers are registered by interfaces.effects and
# approvals.effects at start-up; a test checks that every kind named here has one.
EffectSpec = tuple[str, dict[str, Any]]
START_EXECUTION: EffectSpec = ("interfaces.start_execution", {})
NOTIFY_APPROVERS: EffectSpec = ("approvals.notify_approvers", {})
# The request's server may take its next write: the oldest request waiting for it starts (services.execution).
SERVER_FREE: EffectSpec = ("interfaces.server_free", {})


def tell_requester(about: str) -> tuple[str, dict[str, Any]]:
    return ("approvals.notify_requester", {"about": about})


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    target: str
    action: AuditAction
    outcome: str
    effects: tuple[tuple[str, dict[str, Any]], ...] = ()


def _t(sources: set[str], target: str, action: AuditAction, outcome: str, *effects) -> Transition:
    return Transition(frozenset(sources), target, action, outcome, tuple(effects))


PENDING, APPROVED, EXECUTING, UNKNOWN = Status.PENDING_APPROVAL, Status.APPROVED, Status.EXECUTING, Status.UNKNOWN
FAILED, A = Status.FAILED, AuditAction
RESULT = tell_requester("result")
FREE = SERVER_FREE

TRANSITIONS: dict[str, Transition] = {
    # decisions
    "auto_approve": _t({PENDING}, APPROVED, A.AUTO_APPROVED, Outcome.SUCCESS, START_EXECUTION, tell_requester("auto")),
    "complete_step": _t({PENDING}, PENDING, A.STEP_COMPLETED, Outcome.SUCCESS, NOTIFY_APPROVERS),
    "approve": _t({PENDING}, APPROVED, A.APPROVED, Outcome.SUCCESS, START_EXECUTION, tell_requester("approved")),
    "reject": _t({PENDING}, Status.REJECTED, A.REJECTED, Outcome.SUCCESS, tell_requester("rejected")),
    "expire": _t({PENDING}, Status.EXPIRED, A.EXPIRED, Outcome.FAILURE, tell_requester("expired")),
    "cancel": _t({PENDING, APPROVED}, Status.CANCELLED, A.CANCELLED, Outcome.SUCCESS, FREE),
    # execution: one write in flight per server (an approved request waits while another's is open)
    "wait": _t({APPROVED}, APPROVED, A.WAITING, Outcome.PENDING),
    "claim": _t({APPROVED}, EXECUTING, A.CLAIMED, Outcome.SUCCESS),
    "defer": _t({EXECUTING}, APPROVED, A.RETRY_SCHEDULED, Outcome.PENDING, START_EXECUTION, FREE),  # after a backoff
    "fail": _t({EXECUTING}, FAILED, A.FAILED, Outcome.FAILURE, RESULT, FREE),
    "lose_answer": _t({EXECUTING}, UNKNOWN, A.UNKNOWN, Outcome.UNKNOWN),
    "succeed": _t({EXECUTING, UNKNOWN}, Status.SUCCEEDED, A.SUCCEEDED, Outcome.SUCCESS, RESULT, FREE),
    "port_error": _t({EXECUTING, UNKNOWN}, FAILED, A.FAILED, Outcome.FAILURE, RESULT, FREE),
    # reconciliation
    "undecided": _t({EXECUTING, UNKNOWN}, UNKNOWN, A.RECONCILE_UNDECIDED, Outcome.UNKNOWN),
    "not_applied": _t({EXECUTING, UNKNOWN}, FAILED, A.RECONCILED, Outcome.FAILURE, RESULT, FREE),
    # a write found not applied is watched for SCP applying it late (see services.requests_watch_late)
    "undecided_watched": _t({FAILED}, FAILED, A.RECONCILE_UNDECIDED, Outcome.UNKNOWN),
    "applied_late": _t({FAILED}, Status.SUCCEEDED, A.APPLIED_LATE, Outcome.SUCCESS, RESULT),
    "applied_late_in_error": _t({FAILED}, FAILED, A.APPLIED_LATE, Outcome.FAILURE, RESULT),
    "watch_end": _t({FAILED}, FAILED, A.WATCH_ENDED, Outcome.SUCCESS),
}
# What a new request's submission writes when it waits for approval (an automatic approval is `auto_approve`).
SUBMITTED_EFFECTS = (NOTIFY_APPROVERS,)


def _now() -> dt.datetime:
    return timezone.now()


def _write_effects(effects, request: InterfaceRequest, *, due_at: dt.datetime | None = None) -> None:
    for kind, args in effects:
        effect_add(kind, interface_request_id=request.pk, args=args, due_at=due_at)


@transaction.atomic
def record_submission(
    request: InterfaceRequest, *, actor, payload: dict[str, Any], auto_approve: bool
) -> InterfaceRequest:
    """The audit event of a request just recorded (pending approval), and what follows in the same transaction:
    the policy approves it at once, or its approvers are told."""
    record_event(
        action=AuditAction.SUBMITTED,
        payload=payload,
        interface_request_id=request.pk,
        target=request.server_id,
        actor=actor,
    )
    if auto_approve:
        transition(request, "auto_approve", actor=actor, payload={"policy": request.policy_name}, expires_at=None)
    else:
        _write_effects(SUBMITTED_EFFECTS, request)
    return request


def transition(
    request: InterfaceRequest,
    event: str,
    *,
    actor=None,
    reason: str | None = "",
    payload: dict[str, Any] | None = None,
    where: Q | None = None,
    effects_due_at: dt.datetime | None = None,
    **fields: Any,
) -> bool:
    """Apply `event` to `request` with one conditional update, its audit event and its effects, atomically.

    Returns False (and changes nothing) when the request is no longer in one of the event's source states
    (or no longer matches `where`). `fields` are written with the state; `reason` (None: keep the one it has)
    is what the requester reads; `request` is refreshed.
    """
    step = TRANSITIONS[event]
    with transaction.atomic():
        if reason is not None:
            fields["status_reason"] = reason
        fields.setdefault("updated_at", _now())
        changed = InterfaceRequest.objects.filter(where or Q(), pk=request.pk, status__in=step.sources).update(
            status=step.target, **fields
        )
        if not changed:
            return False
        if step.target in FINAL_STATUSES:  # its fixed IPs are SCP's to guard from now on (or free again)
            FixedIpHold.objects.filter(request_id=request.pk).delete()
        record_event(
            action=step.action,
            outcome=step.outcome,
            payload={"from": request.status, "to": step.target, "reason": reason or "", **(payload or {})},
            interface_request_id=request.pk,
            target=request.server_id,
            actor=actor,
        )
        _write_effects(step.effects, request, due_at=effects_due_at)
    request.refresh_from_db()
    return True
