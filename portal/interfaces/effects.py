"""The interfaces app's handlers of outbox effects (registered by the app at start-up).

Starting an execution is idempotent by itself: the execution claims the request with one conditional update, so
a second start (a repeated delivery) finds it claimed and does nothing. (Follow-up looks are plain tasks: one
lost with its worker is made up for by reconciliation, so they need no outbox row each.)
"""

from portal.audit.models import Effect
from portal.audit.outbox import register

from . import notifications
from .models import InterfaceRequest
from .services import server_writes_resume
from .tasks import execute_interface_request


def _request_id(effect: Effect) -> int:
    if effect.interface_request_id is None:
        raise ValueError(f"effect {effect.pk} ({effect.kind}) names no request")
    return effect.interface_request_id


def _start_execution(effect: Effect) -> None:
    # In place, in the worker delivering the effect: one pickup between approval and the write, not two. A
    # delivery that outlives its lease is delivered again and finds the request claimed.
    execute_interface_request.call(_request_id(effect))


def _server_free(effect: Effect) -> None:
    server_id = InterfaceRequest.objects.values_list("server_id", flat=True).get(pk=_request_id(effect))
    server_writes_resume(server_id=server_id)


def _notify_approvers(effect: Effect) -> None:
    notifications.notify_approvers(request_id=_request_id(effect), once_key=f"effect:{effect.pk}")


def _notify_requester(effect: Effect) -> None:
    about = str(effect.args["about"])
    notifications.notify_requester(request_id=_request_id(effect), about=about, once_key=f"effect:{effect.pk}")


def register_handlers() -> None:
    # Before the mails written with it: they wait while it waits in place for SCP (operations.attach).
    register("interfaces.start_execution", _start_execution, priority=10)
    register("interfaces.server_free", _server_free)
    # (named for the approvals app, where these mails began: the kinds are stored in the outbox's rows)
    register("approvals.notify_approvers", _notify_approvers)
    register("approvals.notify_requester", _notify_requester)
