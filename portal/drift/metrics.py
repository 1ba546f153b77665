"""The drift report's gauges for /metrics (registered with core.metrics at start-up)."""

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily

from .models import DriftFinding, DriftKind, DriftRun


def latest_scan():
    run = DriftRun.objects.filter(finished_at__isnull=False).first()
    findings = GaugeMetricFamily("portal_drift_findings", "Findings of the latest drift scan", labels=["kind"])
    counts = dict(DriftFinding.objects.filter(run=run).values_list("kind").annotate(n=Count("pk")).order_by())
    for kind in DriftKind.values:
        findings.add_metric([kind], counts.get(kind, 0) if run else 0)
    yield findings
    finished = GaugeMetricFamily("portal_drift_last_scan_timestamp_seconds", "When the latest drift scan ended")
    finished.add_metric([], run.finished_at.timestamp() if run and run.finished_at else 0)
    yield finished
