"""The task queue as the portal's own code sees it.

Task rows left behind by a worker that died (SIGKILL, out of memory) are marked failed, with an audit event.

The request such a task was executing is settled by reconciliation (executing past its lease); this only keeps
the task framework's table from showing work as running forever.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from django.tasks import default_task_backend
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from portal.audit.events import AuditAction
from portal.audit.models import Outcome
from portal.audit.services import record_event


def tasks_waiting(*, besides: Collection[tuple[str, list]] = ()) -> bool:
    """Whether a task is due and no worker has taken it yet (always False on a backend without a queue), other
    than the calls `besides`: (task path, arguments) pairs that the caller will see to itself."""
    if not default_task_backend.supports_defer:
        return False
    ready = DBTaskResult.objects.ready()
    if not besides:
        return ready.exists()
    rows = list(ready.values_list("task_path", "args_kwargs")[: len(besides) + 1])
    return any((path, (arguments or {}).get("args")) not in besides for path, arguments in rows)


class WorkerLost(Exception):
    """The worker running this task stopped without finishing it."""


def task_results_recover_abandoned(*, older_than: dt.timedelta) -> int:
    """Mark as failed every task that has been running longer than `older_than`; returns how many."""
    cutoff = timezone.now() - older_than
    recovered = 0
    for result in DBTaskResult.objects.running().filter(started_at__lt=cutoff):
        if (
            not DBTaskResult.objects.running()
            .filter(pk=result.pk)
            .update(
                status="FAILED",
                finished_at=timezone.now(),
                exception_class_path=f"{__name__}.WorkerLost",
                traceback=f"WorkerLost: running since {result.started_at:%Y-%m-%d %H:%M:%S} UTC on {result.worker_ids}",
            )
        ):
            continue  # it finished meanwhile
        recovered += 1
        record_event(
            action=AuditAction.TASK_ABANDONED,
            outcome=Outcome.FAILURE,
            payload={
                "task": result.task_path,
                "task_id": str(result.pk),
                "workers": result.worker_ids,
                "started_at": result.started_at.isoformat(),
            },
            target=result.task_path[:128],
        )
    return recovered
