from django.tasks import task

from portal.core.context import RequestContext, bound, new_correlation_id

from .health import heartbeat
from .version_watch import scp_versions_refresh as refresh


@task()
def worker_heartbeat() -> None:
    """Enqueued by the scheduler: when it runs, a worker is alive and taking tasks from the queue."""

    heartbeat("worker")


@task()
def scp_versions_refresh() -> dict:
    with bound(RequestContext(correlation_id=new_correlation_id(), actor_name="portal-scheduler")):
        return refresh()
