"""Approval policy and decisions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings

from .models import ApprovalPolicy, PolicyOutcome

DEFAULT_POLICY_NAME = "default"


@dataclass(frozen=True)
class PolicyDecision:
    auto_approve: bool
    policy_name: str
    group_name: str
    expires_after: dt.timedelta


def policy_decide(*, plan) -> PolicyDecision:
    """The first enabled policy that matches decides; when none does, the configured default applies."""
    expires_after = dt.timedelta(hours=settings.CONFIG.approval_expiry_hours)
    has_fixed_ips = bool(plan.fixed_ips)
    for policy in ApprovalPolicy.objects.filter(enabled=True).select_related("approver_group"):
        if policy.matches(
            server_name=plan.server.name, vpc_id=plan.server.vpc_id or "", mode=plan.mode, has_fixed_ips=has_fixed_ips
        ):
            if policy.outcome == PolicyOutcome.AUTO_APPROVE:
                return PolicyDecision(True, policy.name, "", expires_after)
            return PolicyDecision(False, policy.name, policy.approver_group.name, expires_after)
    default = settings.CONFIG.approval_default
    if default == "auto":
        return PolicyDecision(True, DEFAULT_POLICY_NAME, "", expires_after)
    return PolicyDecision(False, DEFAULT_POLICY_NAME, default, expires_after)


def _now() -> dt.datetime:
    from django.utils import timezone

    return timezone.now()


def may_decide(*, user, request) -> str | None:
    """Why `user` may not decide `request` (None when they may). Views use it to hide buttons only."""
    from portal.interfaces.models import Status

    if not user.is_authenticated:
        return "Sign in first."
    if request.requester_id == user.pk:
        return "Nobody approves their own request."
    if not request.approval_group or not user.groups.filter(name=request.approval_group).exists():
        return f"Only members of {request.approval_group or 'the approver group'} can decide this request."
    if request.status != Status.PENDING_APPROVAL:
        return f"This request is {request.get_status_display().lower()}; only pending requests can be decided."
    if request.expires_at and request.expires_at <= _now():
        return "This request has expired."
    return None


def request_decide(*, request, user, approve: bool, comment: str = "", parameters_digest: str):
    """Approve or reject a pending request. The decision binds to the parameters the approver was shown."""
    from django.db import transaction

    from portal.audit.models import Outcome
    from portal.interfaces.models import Status
    from portal.interfaces.services import deny, enqueue_execution, request_transition

    comment = comment.strip()[:1000]
    verb = "approve" if approve else "reject"
    reason = may_decide(user=user, request=request)
    if reason is None and parameters_digest != request.parameters_digest:
        reason = "The request's parameters are not the ones you were shown; reload and review it again."
    if reason is None and not approve and not comment:
        reason = "Say why the request is rejected; the requester will read it."
    if reason is not None:
        if "expired" in reason:
            request_expire(request=request)
        raise deny(user=user, action=f"approval.{verb}", reason=reason, request=request)
    with transaction.atomic():
        decided = request_transition(
            request,
            allowed_from=(Status.PENDING_APPROVAL,),
            to=Status.APPROVED if approve else Status.REJECTED,
            action="approval.approved" if approve else "approval.rejected",
            outcome=Outcome.SUCCESS,
            reason="" if approve else f"Rejected by {user.get_username()}: {comment}",
            payload={"comment": comment, "parameters_digest": parameters_digest, "policy": request.policy_name},
            actor=user,
            decided_by=user,
            decided_at=_now(),
            decision_comment=comment,
        )
        if not decided:  # someone else decided first, between the check and the update
            request.refresh_from_db()
            raise deny(
                user=user,
                action=f"approval.{verb}",
                reason=f"This request was already {request.get_status_display().lower()}.",
                request=request,
            )
        from .notifications import notify_requester_decision

        transaction.on_commit(lambda: notify_requester_decision(request_id=request.pk, approved=approve))
        if approve:
            transaction.on_commit(lambda: enqueue_execution(request_id=request.pk))
    return request


def request_expire(*, request) -> bool:
    from portal.audit.models import Outcome
    from portal.interfaces.models import Status
    from portal.interfaces.services import request_transition

    return request_transition(
        request,
        allowed_from=(Status.PENDING_APPROVAL,),
        to=Status.EXPIRED,
        action="approval.expired",
        outcome=Outcome.FAILURE,
        reason="Nobody decided this request in time; submit it again if it is still needed.",
    )


def requests_expire_due() -> int:
    """Expire every pending request past its time. Safe to run from many places at once."""
    from portal.interfaces.models import InterfaceRequest, Status

    due = InterfaceRequest.objects.filter(status=Status.PENDING_APPROVAL, expires_at__lte=_now())
    return sum(request_expire(request=request) for request in due)
