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
