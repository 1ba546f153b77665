from django.tasks import task

from portal.core.context import RequestContext, bound, new_correlation_id

from .services import interface_request_execute, interface_request_follow_up


def _worker_context() -> RequestContext:
    return RequestContext(correlation_id=new_correlation_id(), actor_name="portal-worker")


@task()
def execute_interface_request(request_id: int) -> str:
    """Carry out an approved request (started by the outbox's `interfaces.start_execution`)."""
    with bound(_worker_context()):
        request = interface_request_execute(request_id=request_id)
    return request.status if request else "missing"


@task()
def follow_up_interface_request(request_id: int, attempt: int = 1) -> str:
    """One look at an executing request's new (or departing) interface; schedules the next while it settles."""
    with bound(_worker_context()):
        request = interface_request_follow_up(request_id=request_id, attempt=attempt)
    return request.status if request else "missing"
