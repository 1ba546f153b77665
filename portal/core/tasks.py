from django.tasks import task

from portal.core.context import RequestContext, bound, new_correlation_id


@task()
def worker_heartbeat() -> None:
    """Enqueued by the scheduler: when it runs, a worker is alive and taking tasks from the queue."""
    from .health import heartbeat

    heartbeat("worker")


@task()
def scp_versions_refresh() -> dict:
    from .version_watch import scp_versions_refresh as refresh

    with bound(RequestContext(correlation_id=new_correlation_id(), actor_name="portal-scheduler")):
        return refresh()
