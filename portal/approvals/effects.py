"""The approvals app's handlers of outbox effects: the mails about a request's decisions and result.

Each mail is keyed by its effect, so a repeated delivery mails nobody twice.
"""

from portal.audit.models import Effect
from portal.audit.outbox import register
from portal.core.roles import register_navigation_count

from . import notifications
from .selectors import pending_count_for


def _notify_approvers(effect: Effect) -> None:
    notifications.notify_approvers(request_id=effect.interface_request_id, once_key=f"effect:{effect.pk}")


def _notify_requester(effect: Effect) -> None:
    notifications.notify_requester(
        request_id=effect.interface_request_id, about=effect.args["about"], once_key=f"effect:{effect.pk}"
    )


def register_handlers() -> None:
    register_navigation_count("pending_approvals", needs="is_approver", count=lambda user: pending_count_for(user=user))
    register("approvals.notify_approvers", _notify_approvers)
    register("approvals.notify_requester", _notify_requester)
