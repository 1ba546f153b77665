"""The approver's queue. Decisions happen in place (htmx) and also work as plain form posts."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from portal.audit.events import AuditAction
from portal.core.roles import is_approver
from portal.interfaces.access import Purpose, deny, interface_request_for
from portal.interfaces.errors import NotAllowed
from portal.interfaces.services import decisions

from . import selectors


@login_required
@require_GET
def queue(request):
    if not is_approver(request.user):
        deny(user=request.user, action=AuditAction.QUEUE_REFUSED, reason=_("Approver role needed."))
        context = {"message": _("Only approvers have a queue."), "title": _("Not allowed")}
        return render(request, "core/problem.html", context, status=403)
    items = [selectors.decision_context(r, request.user) for r in selectors.pending_for(user=request.user)]
    return render(request, "approvals/queue.html", {"items": items})


@login_required
@require_POST
def decide(request, pk: int):
    interface_request = interface_request_for(user=request.user, pk=pk, purpose=Purpose.DECIDE)
    action = request.POST.get("decision", "")
    text = request.POST.get("comment", "")[:1000].replace("\x00", "")
    error = None
    try:
        if action not in ("approve", "reject"):
            raise deny(
                user=request.user,
                action=AuditAction.DECIDE_REFUSED,
                reason=_("Choose Approve or Reject."),
                request=interface_request,
            )
        decisions.request_decide(
            request=interface_request,
            user=request.user,
            approve=action == "approve",
            comment=text,
            parameters_digest=request.POST.get("parameters_digest", "")[:64],
        )
    except NotAllowed as exc:
        error = str(exc)
    interface_request.refresh_from_db()
    decided_now = ("approved" if action == "approve" else "rejected") if error is None else ""
    context = selectors.decision_context(
        interface_request, request.user, error=error, comment=text, decided_now=decided_now
    )
    if request.htmx:
        # htmx 2 does not swap 4xx answers, so a refusal is shown in place with 200 (and audited as denied).
        return render(request, "approvals/queue.html#item", context)
    if error:
        return render(request, "approvals/decision_refused.html", context, status=403)
    return redirect("approval_queue")
