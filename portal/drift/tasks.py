from django.tasks import task


@task()
def drift_scan_task(trigger: str = "schedule") -> int:
    from .services import drift_scan

    return drift_scan(trigger=trigger).findings_count
