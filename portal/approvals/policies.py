"""Which approval steps a proposed attach or detach needs. Reads policies; changes nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.translation import gettext as _

from .models import ApprovalPolicy, PolicyOutcome, describe_step

DEFAULT_POLICY_NAME = "default"
TEAM_DEFAULT = "team"


@dataclass(frozen=True)
class PolicyDecision:
    auto_approve: bool
    policy_name: str
    steps: list[dict] = field(default_factory=list)
    expires_after: dt.timedelta = dt.timedelta(hours=72)
    unreachable: str = ""  # why nobody could ever approve the request (it must not be recorded)

    @property
    def summary(self) -> str:
        return "; ".join(f"step {n}: {describe_step(s)}" for n, s in enumerate(self.steps, 1))


def policy_decide(*, plan, team) -> PolicyDecision:
    """The first enabled policy that matches decides; when none does, APPROVAL_DEFAULT applies.

    APPROVAL_DEFAULT is `auto`, `team` (any one of the owning team's approver groups) or a group's name.
    """
    expires_after = dt.timedelta(hours=settings.CONFIG.approval_expiry_hours)
    has_fixed_ips = bool(getattr(plan, "fixed_ips", ()))
    action = getattr(plan, "action", "attach")
    name, steps = None, []
    for policy in ApprovalPolicy.objects.filter(enabled=True).prefetch_related("steps__groups"):
        if policy.matches(
            server_name=plan.server.name,
            vpc_id=plan.server.vpc_id or "",
            mode=plan.mode,
            has_fixed_ips=has_fixed_ips,
            action=action,
        ):
            if policy.outcome == PolicyOutcome.AUTO_APPROVE:
                return PolicyDecision(True, policy.name, [], expires_after)
            name, steps = policy.name, policy.step_specs()
            break
    if name is None:
        default = settings.CONFIG.approval_default
        if default == "auto":
            return PolicyDecision(True, DEFAULT_POLICY_NAME, [], expires_after)
        name = DEFAULT_POLICY_NAME
        groups = sorted(team.approver_groups.values_list("name", flat=True)) if default == TEAM_DEFAULT else [default]
        steps = [{"groups": groups, "required": 1}]
    unreachable = ""
    if not steps or any(not s["groups"] for s in steps):
        unreachable = _(
            "Nobody could approve this request: the policy “%(policy)s” names no approver group for team %(team)s. "
            "Ask an administrator to set one."
        ) % {"policy": name, "team": team.name}
    return PolicyDecision(False, name, steps, expires_after, unreachable)
