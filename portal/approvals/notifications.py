"""Emails about requests. A failure to send is logged and never undoes or blocks a decision."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse

from portal.interfaces.models import InterfaceRequest

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
    """Tell the people who can decide the request's current step that it waits for them."""
    from .selectors import deciders_for

    request = InterfaceRequest.objects.select_related("requester").get(pk=request_id)
    step = (
        f" (step {request.current_step + 1} of {len(request.approval_steps)})"
        if len(request.approval_steps) > 1
        else ""
    )
    _send(
        f"Approval needed{step}: interface for {request.server_name} (request {request.pk})",
        f"{request.requester.get_username()} asks to attach an interface to {request.server_name}.\n"
        f"Justification: {request.justification}\n\nReview it: {_link(request.pk)}\n",
        [user.email for user in deciders_for(request)],
    )


def _tell_requester(request_id: int, subject: str, text: str) -> None:
    request = InterfaceRequest.objects.select_related("requester").get(pk=request_id)
    _send(
        f"Request {request.pk}{subject(request) if callable(subject) else ' ' + subject}",
        f"Your request to attach an interface to {request.server_name} {text(request)}\n\n{_link(request.pk)}\n",
        [request.requester.email],
    )


def notify_requester_approved(*, request_id: int) -> None:
    _tell_requester(request_id, "approved", lambda r: f"was approved.{_comment(r)}")


def notify_requester_rejected(*, request_id: int) -> None:
    _tell_requester(request_id, "rejected", lambda r: f"was rejected.{_comment(r)}")


def notify_requester_expired(*, request_id: int) -> None:
    _tell_requester(
        request_id, "expired", lambda r: "expired: nobody decided it in time. Submit it again if it is still needed."
    )


def _comment(request) -> str:
    return f"\nComment: {request.decision_comment}" if request.decision_comment else ""


def notify_requester_result(*, request_id: int) -> None:
    _tell_requester(
        request_id,
        lambda r: f": {r.get_status_display().lower()}",
        lambda r: f"ended: {r.get_status_display()}.\n{r.status_reason}",
    )
