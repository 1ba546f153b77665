import datetime as dt

from django.conf import settings
from django.tasks import task

from portal.core.context import RequestContext, bound, new_correlation_id
from portal.core.task_recovery import task_results_recover_abandoned
from portal.interfaces.services import requests_reconcile_due, requests_resume_due
from portal.interfaces.services.decisions import requests_expire_due


@task()
def expire_requests() -> int:
    with bound(RequestContext(correlation_id=new_correlation_id(), actor_name="portal-scheduler")):
        return requests_expire_due()


@task()
def reconcile_requests() -> int:
    with bound(RequestContext(correlation_id=new_correlation_id(), actor_name="portal-scheduler")):
        task_results_recover_abandoned(older_than=dt.timedelta(seconds=settings.CONFIG.execution_lease_seconds))
        return requests_reconcile_due()


@task()
def resume_requests() -> int:
    """Approved requests whose retry after an SCP outage is due (their own deferred task is the usual way)."""

    with bound(RequestContext(correlation_id=new_correlation_id(), actor_name="portal-scheduler")):
        return requests_resume_due()
