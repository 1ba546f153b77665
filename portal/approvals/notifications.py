"""Emails about requests. A failure to send is logged and never undoes or blocks a decision."""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.urls import reverse

logger = logging.getLogger(__name__)


def _link(request_id: int) -> str:
    return settings.CONFIG.portal_base_url.rstrip("/") + reverse("request_detail", args=[request_id])


def _send(subject: str, body: str, recipients: list[str]) -> None:
    recipients = [r for r in recipients if r]
    if not recipients:
        return
    try:
        send_mail(subject, body, None, recipients)
    except Exception:  # any mail failure is logged, never raised into a decision
        logger.exception("could not send %r to %d recipient(s)", subject, len(recipients))


def notify_approvers(*, request_id: int) -> None:
    from portal.interfaces.models import InterfaceRequest

    request = InterfaceRequest.objects.select_related("requester").get(pk=request_id)
    approvers = (
        get_user_model()
        .objects.filter(groups__name=request.approval_group, is_active=True)
        .exclude(pk=request.requester_id)
        .values_list("email", flat=True)
    )
    _send(
        f"Approval needed: interface for {request.server_name} (request {request.pk})",
        f"{request.requester.get_username()} asks to attach an interface to {request.server_name}.\n"
        f"Justification: {request.justification}\n\nReview it: {_link(request.pk)}\n",
        list(approvers),
    )


def notify_requester_decision(*, request_id: int, approved: bool) -> None:
    """Tell the requester what was decided (not the request's state by the time this runs)."""
    from portal.interfaces.models import InterfaceRequest

    request = InterfaceRequest.objects.select_related("requester").get(pk=request_id)
    verdict = "approved" if approved else "rejected"
    note = f"\nComment: {request.decision_comment}" if request.decision_comment else ""
    _send(
        f"Request {request.pk} {verdict}",
        f"Your request to attach an interface to {request.server_name} was {verdict}.{note}\n\n{_link(request.pk)}\n",
        [request.requester.email],
    )


def notify_requester_result(*, request_id: int) -> None:
    from portal.interfaces.models import InterfaceRequest

    request = InterfaceRequest.objects.select_related("requester").get(pk=request_id)
    _send(
        f"Request {request.pk}: {request.get_status_display().lower()}",
        f"Attaching an interface to {request.server_name}: {request.get_status_display()}.\n"
        f"{request.status_reason}\n\n{_link(request.pk)}\n",
        [request.requester.email],
    )
