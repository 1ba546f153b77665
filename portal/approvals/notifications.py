"""Emails about requests. A failure to send is logged and never undoes or blocks a decision."""

from collections.abc import Callable

from django.conf import settings
from django.urls import reverse

from portal.core.mail import send_notification
from portal.interfaces.models import InterfaceRequest


def _link(request_id: int) -> str:
    return settings.CONFIG.portal_base_url.rstrip("/") + reverse("request_detail", args=[request_id])


def notify_approvers(*, request_id: int) -> None:
    """Tell the people who can decide the request's current step that it waits for them."""
    from .selectors import deciders_for

    request = InterfaceRequest.objects.select_related("requester").get(pk=request_id)
    step = (
        f" (step {request.current_step + 1} of {len(request.approval_steps)})"
        if len(request.approval_steps) > 1
        else ""
    )
    send_notification(
        f"Approval needed{step}: interface for {request.server_name} (request {request.pk})",
        f"{request.requester.get_username()} asks to {_what(request)}.\n"
        f"Justification: {request.justification}\n\nReview it: {_link(request.pk)}\n",
        [user.email for user in deciders_for(request)],
        request_id=request.pk,
    )


def _what(request: InterfaceRequest) -> str:
    if request.is_detach:
        return (
            f"detach the interface {request.port_id} ({request.port_name or 'no address'}) from {request.server_name}"
        )
    return f"attach an interface to {request.server_name}"


def _tell_requester(request_id: int, compose: Callable[[InterfaceRequest], tuple[str, str]]) -> None:
    """Mail the requester; `compose` gives the subject after "Request N" and what follows "Your request to …"."""
    request = InterfaceRequest.objects.select_related("requester").get(pk=request_id)
    subject, text = compose(request)
    send_notification(
        f"Request {request.pk}{subject}",
        f"Your request to {_what(request)} {text}\n\n{_link(request.pk)}\n",
        [request.requester.email],
        request_id=request.pk,
    )


def _comment(request) -> str:
    return f"\nComment: {request.decision_comment}" if request.decision_comment else ""


def notify_requester_approved(*, request_id: int) -> None:
    _tell_requester(request_id, lambda r: (" approved", f"was approved.{_comment(r)}"))


def notify_requester_rejected(*, request_id: int) -> None:
    _tell_requester(request_id, lambda r: (" rejected", f"was rejected.{_comment(r)}"))


def notify_requester_expired(*, request_id: int) -> None:
    text = "expired: nobody decided it in time. Submit it again if it is still needed."
    _tell_requester(request_id, lambda r: (" expired", text))


def notify_requester_result(*, request_id: int) -> None:
    _tell_requester(
        request_id,
        lambda r: (f": {r.get_status_display().lower()}", f"ended: {r.get_status_display()}.\n{r.status_reason}"),
    )
