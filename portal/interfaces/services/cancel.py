"""The requester's own decisions on a request: withdrawing it."""

from __future__ import annotations

from django.utils.translation import gettext as _

from portal.audit.events import AuditAction

from ..access import deny
from ..lifecycle import transition
from ..models import InterfaceRequest


def interface_request_cancel(*, request: InterfaceRequest, user) -> InterfaceRequest:
    """The requester withdraws a request that is pending, or approved but not yet claimed."""
    if request.requester_id != user.pk:
        raise deny(
            user=user,
            action=AuditAction.CANCEL_REFUSED,
            reason=_("Only the requester can cancel a request."),
            request=request,
        )
    if not transition(
        request, "cancel", reason=_("Cancelled by %(user)s.") % {"user": user.get_username()}, actor=user
    ):
        request.refresh_from_db()
        raise deny(
            user=user,
            action=AuditAction.CANCEL_REFUSED,
            reason=_("This request is %(status)s and can no longer be cancelled.")
            % {"status": request.get_status_display().lower()},
            request=request,
        )
    return request
