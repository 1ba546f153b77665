"""The decisions on a request, beside its lifecycle: who may decide which step, recorded one person at a time,
bound to what they saw, and the expiry of what nobody decided. The approvals app keeps the policies, the
decision records and the approvers' queue; the transitions are the lifecycle's."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.approvals.models import ApprovalDecision, describe_step
from portal.audit.events import AuditAction
from portal.audit.models import Outcome
from portal.audit.services import record_event
from portal.identity.services import in_language_of
from portal.teams.selectors import access_for

from ..access import deny
from ..errors import NotAllowed
from ..lifecycle import transition
from ..models import InterfaceRequest, Status


def _now() -> dt.datetime:
    return timezone.now()


@dataclass(frozen=True)
class Refusal:
    reason: str
    expired: bool = False


def may_decide(*, user, request: InterfaceRequest) -> Refusal | None:
    """Why `user` may not decide `request` now (None when they may). Views use it to hide buttons only."""
    if not user.is_authenticated:
        return Refusal(_("Sign in first."))
    if request.requester_id == user.pk:
        return Refusal(_("Nobody approves their own request."))
    if request.status != Status.PENDING_APPROVAL:
        return Refusal(
            _("This request is %(status)s; only pending requests can be decided.")
            % {"status": request.get_status_display().lower()}
        )
    if request.expires_at and request.expires_at <= _now():
        return Refusal(_("This request has expired."), expired=True)
    step = request.current_step_spec
    access = access_for(user)
    if step is None or request.team_id not in access.approver_team_ids or not set(step["groups"]) & access.group_names:
        groups = _(" or ").join(step["groups"]) if step else _("the approver groups")
        team = request.team.name if request.team is not None else _("no team")
        return Refusal(
            _("Only members of %(groups)s who approve for team %(team)s can decide step %(n)d of this request.")
            % {"groups": groups, "team": team, "n": request.current_step + 1}
        )
    if ApprovalDecision.objects.filter(request=request, user=user).exists():
        return Refusal(_("You have already decided on this request; the next decision must come from someone else."))
    return None


def request_decide(*, request: InterfaceRequest, user, approve: bool, comment: str = "", parameters_digest: str):
    """Record one person's decision at the request's current step, and move the request on when it is enough.

    The request's row is locked while deciding, so two approvers deciding the last step at once make one
    approval (and one execution); the second is told what happened.
    """
    comment = comment.strip()[:1000]
    verb = "approve" if approve else "reject"
    try:
        refusal = _decide_locked(request, user=user, approve=approve, comment=comment, digest=parameters_digest)
    except IntegrityError:  # a second decision by the same person raced in
        refusal = Refusal(_("You have already decided on this request."))
    if refusal is not None:
        if refusal.expired:
            request_expire(request=request)
        request.refresh_from_db()
        raise deny_decision(user=user, verb=verb, reason=refusal.reason, request=request)
    request.refresh_from_db()
    return request


def deny_decision(*, user, verb: str, reason: str, request: InterfaceRequest) -> NotAllowed:
    action = AuditAction.APPROVE_REFUSED if verb == "approve" else AuditAction.REJECT_REFUSED
    return deny(user=user, action=action, reason=reason, request=request)


@transaction.atomic
def _decide_locked(request: InterfaceRequest, *, user, approve: bool, comment: str, digest: str) -> Refusal | None:
    locked = InterfaceRequest.objects.select_for_update().get(pk=request.pk)
    refusal = may_decide(user=user, request=locked)
    if refusal is None and digest != locked.parameters_digest:
        refusal = Refusal(_("The request's parameters are not the ones you were shown; reload and review it again."))
    if refusal is None and not approve and not comment:
        refusal = Refusal(_("Say why the request is rejected; the requester will read it."))
    if refusal is not None:
        return refusal
    step_index, step = locked.current_step, locked.current_step_spec
    assert step is not None  # may_decide refused a request with no step left
    now = _now()
    with transaction.atomic():
        ApprovalDecision.objects.create(
            request=locked,
            step=step_index,
            user=user,
            approve=approve,
            comment=comment,
            parameters_digest=digest,
            decided_at=now,
        )
    payload = {
        "comment": comment,
        "parameters_digest": digest,
        "policy": locked.policy_name,
        "step": step_index + 1,
        "steps": len(locked.approval_steps),
        "rule": describe_step(step),
    }
    decided = {"decided_by": user, "decided_at": now, "decision_comment": comment}
    if not approve:
        with in_language_of(locked.requester_id):  # the requester reads it
            reason = _("Rejected by %(user)s at step %(n)d: %(comment)s") % {
                "user": user.get_username(),
                "n": step_index + 1,
                "comment": comment,
            }
        transition(locked, "reject", actor=user, reason=reason, payload=payload, **decided)
        return None
    return _approved_at_step(locked, user=user, payload=payload, decided=decided)


def _approved_at_step(locked: InterfaceRequest, *, user, payload: dict, decided: dict) -> Refusal | None:
    """One more approval at the current step: enough for the step (then the next, or approved), or not yet."""
    step_index, step = locked.current_step, locked.current_step_spec
    assert step is not None
    approvals = ApprovalDecision.objects.filter(request=locked, step=step_index, approve=True).count()
    payload["approvals_at_step"] = approvals
    if approvals < step["required"]:
        record_event(
            action=AuditAction.DECISION_RECORDED,
            outcome=Outcome.SUCCESS,
            payload={**payload, "reason": f"{approvals} of {step['required']} approvals at step {step_index + 1}"},
            interface_request_id=locked.pk,
            target=locked.server_id,
            actor=user,
        )
        return None
    if step_index + 1 < len(locked.approval_steps):
        with in_language_of(locked.requester_id):
            reason = _("Step %(n)d approved; waiting for step %(next)d.") % {
                "n": step_index + 1,
                "next": step_index + 2,
            }
        moved = transition(
            locked,
            "complete_step",
            actor=user,
            reason=reason,
            payload=payload,
            where=_at_step(step_index),
            current_step=step_index + 1,
        )
    else:
        moved = transition(locked, "approve", actor=user, payload=payload, where=_at_step(step_index), **decided)
    if not moved:  # cannot happen under the row lock; if it ever does, the decision must not stand
        transaction.set_rollback(True)
        return Refusal(_("Someone else decided this step at the same moment; reload the request."))
    return None


def _at_step(index: int) -> Q:
    return Q(current_step=index)


def request_expire(*, request: InterfaceRequest) -> bool:
    return transition(
        request, "expire", reason=_("Nobody decided this request in time; submit it again if it is still needed.")
    )


def requests_expire_due() -> int:
    """Expire every pending request past its time. Safe to run from many places at once."""
    due = InterfaceRequest.objects.filter(status=Status.PENDING_APPROVAL, expires_at__lte=_now())
    expired = 0
    for request in due:
        with in_language_of(request.requester_id):  # the reason is for the requester
            expired += request_expire(request=request)
    return expired
