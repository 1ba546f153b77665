"""The approver's queue and decisions, bound to the parameters digest the approver reviewed."""

from __future__ import annotations

from django.utils import timezone
from ninja import Router

from portal.approvals import selectors
from portal.interfaces.access import Purpose, interface_request_for
from portal.interfaces.services import decisions

from . import presenters
from .auth import require_scope
from .models import Scope
from .schemas import DecisionIn, QueueItemOut, RequestOut

router = Router(tags=["approvals"])


@router.get("/approvals", response=list[QueueItemOut], summary="My approval queue")
def queue(request):
    """Pending requests you may decide now, oldest first. Scope: `approve`."""
    require_scope(request, Scope.APPROVE)
    now = timezone.now()
    return [
        {
            "request": presenters.request_out(item, request),
            "age_seconds": int((now - item.created_at).total_seconds()),
            "deciders": [u.get_username() for u in selectors.deciders_for(item)],
        }
        for item in selectors.pending_for(user=request.user)
    ]


@router.post("/approvals/{request_id}/decision", response=RequestOut, summary="Approve or reject")
def decide(request, request_id: int, payload: DecisionIn):
    """Decide the request's current step. `parameters_digest` must be the one you reviewed; a rejection needs a
    comment. Refusals (your own request, not your step, already decided) are 403 with the reason. Scope: `approve`."""
    require_scope(request, Scope.APPROVE)
    interface_request = interface_request_for(user=request.user, pk=request_id, purpose=Purpose.DECIDE)
    decisions.request_decide(
        request=interface_request,
        user=request.user,
        approve=payload.decision == "approve",
        comment=payload.comment.replace("\x00", ""),
        parameters_digest=payload.parameters_digest,
    )
    interface_request.refresh_from_db()
    return presenters.request_out(interface_request, request)
