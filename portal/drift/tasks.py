from django.tasks import task

from .services import drift_scan


@task()
def drift_scan_task(trigger: str = "schedule") -> int:
    return drift_scan(trigger=trigger).findings_count
