"""Every state change of an interface request, by use case. Views, the API and tasks call these; nothing else
writes the model. Services never import tasks: what follows a change is an outbox effect (see effects.py)."""

from ..access import deny
from .cancel import interface_request_cancel
from .common import MAX_ATTEMPTS
from .decisions import may_decide, request_decide, requests_expire_due
from .execution import (
    enqueue_execution,
    interface_request_execute,
    interface_request_follow_up,
    requests_resume_due,
    server_writes_resume,
)
from .reconciliation import WATCHED, interface_request_reconcile, requests_reconcile_due, requests_watch_late
from .submission import (
    attach_input_rejected,
    attach_preview,
    attach_validate,
    detach_effect,
    detach_preview,
    detach_request_submit,
    detach_validate,
    interface_request_submit,
    operation_preview,
    operation_validate,
    request_preview,
    request_submit,
)

__all__ = [
    "MAX_ATTEMPTS",
    "WATCHED",
    "attach_input_rejected",
    "attach_preview",
    "attach_validate",
    "deny",
    "detach_effect",
    "detach_preview",
    "detach_request_submit",
    "detach_validate",
    "enqueue_execution",
    "interface_request_cancel",
    "interface_request_execute",
    "interface_request_follow_up",
    "interface_request_reconcile",
    "interface_request_submit",
    "may_decide",
    "operation_preview",
    "operation_validate",
    "request_decide",
    "request_preview",
    "request_submit",
    "requests_expire_due",
    "requests_reconcile_due",
    "requests_resume_due",
    "requests_watch_late",
    "server_writes_resume",
]
