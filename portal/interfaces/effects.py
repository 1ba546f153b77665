"""The interfaces app's handlers of outbox effects.

Starting an execution is idempotent by itself: the execution claims the request with one conditional update, so
a second start (a repeated delivery) finds it claimed and does nothing.
"""

from portal.audit.models import Effect
from portal.audit.outbox import register

from .tasks import execute_interface_request


def _start_execution(effect: Effect) -> None:
    execute_interface_request.enqueue(effect.interface_request_id)


def register_handlers() -> None:
    register("interfaces.start_execution", _start_execution)
