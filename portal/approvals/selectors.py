"""Reads for approvers: their queue, who can decide a request's current step, and what they are shown."""

from django.contrib.auth import get_user_model
from django.utils import timezone

from portal.interfaces.models import InterfaceRequest, Status
from portal.interfaces.selectors import ip_conflicts
from portal.interfaces.services import request_preview
from portal.interfaces.services.decisions import may_decide
from portal.teams.selectors import access_for

from .models import ApprovalDecision, describe_step


def pending_for(*, user) -> list[InterfaceRequest]:
    """Pending requests this user may decide now: their teams', at a step naming one of their groups, not their
    own, and not one they have decided already."""
    access = access_for(user)
    if not access.approver_team_ids:
        return []
    candidates = (
        InterfaceRequest.objects.filter(status=Status.PENDING_APPROVAL, team_id__in=access.approver_team_ids)
        .exclude(requester=user)
        .exclude(pk__in=ApprovalDecision.objects.filter(user=user).values("request_id"))
        .select_related("requester", "team")
        .order_by("created_at")
    )
    return [r for r in candidates if r.current_step_spec and set(r.current_step_spec["groups"]) & access.group_names]


def pending_count_for(*, user) -> int:
    return len(pending_for(user=user))


def deciders_for(request: InterfaceRequest, *, limit: int = 50):
    """Active users who may decide the request's current step: in a named group and an approver of its team."""
    step = request.current_step_spec
    if request.status != Status.PENDING_APPROVAL or step is None or request.team_id is None:
        return []
    return list(
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=step["groups"])
        .filter(groups__approving_teams=request.team_id)
        .exclude(pk=request.requester_id)
        .exclude(pk__in=ApprovalDecision.objects.filter(request=request).values("user_id"))
        .distinct()
        .order_by("username")[:limit]
    )


def approval_progress(request: InterfaceRequest) -> list[dict]:
    """Each step with its rule, its state and the decisions made at it, for the request page and the queue."""
    decisions = list(ApprovalDecision.objects.filter(request=request).select_related("user"))
    steps = []
    for index, spec in enumerate(request.approval_steps or []):
        if request.status == Status.PENDING_APPROVAL:
            state = "done" if index < request.current_step else ("current" if index == request.current_step else "")
        else:
            state = "done" if any(d.step == index and d.approve for d in decisions) else ""
        steps.append(
            {
                "number": index + 1,
                "rule": describe_step(spec),
                "state": state,
                "decisions": [d for d in decisions if d.step == index],
            }
        )
    return steps


def approval_overview(request: InterfaceRequest) -> dict:
    """The request's steps and who can decide the current one: what every viewer of a request is shown."""
    return {"steps": approval_progress(request), "deciders": [u.get_username() for u in deciders_for(request)]}


def decision_context(item, user, **extra) -> dict:
    """What an approver sees of one request: its parameters, the exact call, its age, its steps, and whether
    they may decide."""

    refusal = may_decide(user=user, request=item)
    return {
        "item": item,
        "preview": request_preview(request=item),
        "age": timezone.now() - item.created_at,
        "blocked": refusal.reason if refusal else None,
        "conflicts": ip_conflicts(item),
        "holds": [h.address for h in item.holds.all()] if item.fixed_ips else [],
        **approval_overview(item),
        **extra,
    }
