"""The interfaces app's handlers of outbox effects, and its operations, registered at start-up.

Starting an execution is idempotent by itself: the execution claims the request with one conditional update, so
a second start (a repeated delivery) finds it claimed and does nothing. A follow-up look is idempotent too:
settling is a conditional transition, and a request that has moved on is left alone.
"""

from portal.audit.models import Effect
from portal.audit.outbox import register
from portal.core.metrics import register_collector

from . import notifications, registry
from .metrics import requests_by_state
from .operations.attach import AttachOperation
from .operations.detach import DetachOperation
from .services import interface_request_follow_up
from .services.execution import FOLLOW_UP
from .tasks import execute_interface_request


def _request_id(effect: Effect) -> int:
    if effect.interface_request_id is None:
        raise ValueError(f"effect {effect.pk} ({effect.kind}) names no request")
    return effect.interface_request_id


def _start_execution(effect: Effect) -> None:
    execute_interface_request.enqueue(_request_id(effect))


def _follow_up(effect: Effect) -> None:
    interface_request_follow_up(request_id=_request_id(effect), attempt=int(effect.args.get("attempt", 1)))


def _notify_approvers(effect: Effect) -> None:
    notifications.notify_approvers(request_id=_request_id(effect), once_key=f"effect:{effect.pk}")


def _notify_requester(effect: Effect) -> None:
    about = str(effect.args["about"])
    notifications.notify_requester(request_id=_request_id(effect), about=about, once_key=f"effect:{effect.pk}")


def register_handlers() -> None:
    register_collector(requests_by_state)
    registry.register(AttachOperation())
    registry.register(DetachOperation())
    register("interfaces.start_execution", _start_execution)
    # (named for the approvals app, where these mails began: the kinds are stored in the outbox's rows)
    register("approvals.notify_approvers", _notify_approvers)
    register("approvals.notify_requester", _notify_requester)
    register(FOLLOW_UP, _follow_up)
