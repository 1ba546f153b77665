"""The interfaces app's gauges for /metrics (registered with core.metrics at start-up)."""

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily

from .models import InterfaceRequest, Status


def requests_by_state():
    counts = dict(InterfaceRequest.objects.values_list("status").annotate(n=Count("pk")).order_by())
    family = GaugeMetricFamily("portal_interface_requests", "Interface requests by state", labels=["state"])
    for status in Status.values:
        family.add_metric([status], counts.get(status, 0))
    yield family
