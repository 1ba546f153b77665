"""Prometheus metrics, read from the database at scrape time so that every process's work is counted.

The counters (SCP calls with their latency, refusals, reconciliations) are derived from the audit log, which
already records each of them: a scrape folds the events appended since the last scrape into running totals.
Nothing extra is written on the hot path, and the figures can never disagree with the audit log. Gauges
(requests by state, the task queue, heartbeats, SCP version deadlines) are read as they stand.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from portal.audit.events import AuditAction, action_named
from portal.audit.models import AuditEvent
from portal.audit.outbox import effects_backlog
from portal.audit.selectors import chain_head
from portal.audit.streams import stream_states
from portal.audit.witnessing import witness_states

from .models import LATENCY_BUCKETS, Heartbeat, MetricCounter, ScpApiVersion, ScpCallStat

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_PATH_WORDS = {"v1", "servers", "interfaces", "subnets", "ports", "port-ip-availabilities"}
RECONCILE_ACTIONS = (AuditAction.RECONCILED, AuditAction.RECONCILE_UNDECIDED)
CURSOR = {"name": "_audit_seq_folded", "labels": ""}
FOLD_LIMIT = 100_000  # events folded per scrape: a first scrape of a large log catches up over a few scrapes


def _bump(model, key: dict, **updates) -> None:
    """Add to one series' row, creating it the first time."""
    if model.objects.filter(**key).update(**updates):
        return
    try:
        with transaction.atomic():
            model.objects.create(**key)
    except IntegrityError:
        pass  # created meanwhile; our update below lands on it
    model.objects.filter(**key).update(**updates)


def endpoint_of(url: str) -> str:
    """`/v1/servers/{id}/interfaces` from a full call URL: ids and the query are left out (bounded label values)."""
    path = urlsplit(url).path
    at = path.find("/v1/")
    if at < 0:
        return "/"
    parts = [p if p in _PATH_WORDS else "{id}" for p in path[at + 1 :].split("/") if p]
    return "/" + "/".join(parts)


def _labels(**labels: str) -> str:
    return ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))


def _bucket(seconds: float) -> int:
    return next((i for i, bound in enumerate(LATENCY_BUCKETS) if seconds <= bound), len(LATENCY_BUCKETS))


@transaction.atomic
def metrics_fold() -> int:
    """Fold the audit events appended since the last scrape into the counters; return how many were read."""

    MetricCounter.objects.get_or_create(**CURSOR)
    cursor = MetricCounter.objects.select_for_update().get(**CURSOR)  # one scrape folds at a time
    start = int(cursor.value)
    head = min(chain_head()[0], start + FOLD_LIMIT)
    if head <= start:
        return 0
    events = AuditEvent.objects.filter(seq__gt=start, seq__lte=head).filter(
        Q(action=AuditAction.SCP_CALL) | Q(outcome="denied") | Q(action__in=RECONCILE_ACTIONS)
    )
    calls: dict[tuple[str, str, str, str], list] = defaultdict(lambda: [0, 0.0, Counter()])
    counters: Counter = Counter()
    for action, outcome, payload in events.values_list("action", "outcome", "payload").iterator(chunk_size=2000):
        if action == AuditAction.SCP_CALL:
            payload = payload or {}
            seconds = float(payload.get("latency_ms") or 0) / 1000
            status = payload.get("status")
            key = (
                str(payload.get("service", ""))[:20],
                endpoint_of(str(payload.get("url", ""))),
                str(payload.get("method", ""))[:8],
                str(status) if status else str(payload.get("error_class") or "none")[:20],
            )
            entry = calls[key]
            entry[0] += 1
            entry[1] += seconds
            entry[2][_bucket(seconds)] += 1
        if outcome == "denied":
            # Only the catalogue's actions become label values (bounded, whatever an old event holds).
            counters[("portal_refusals", _labels(action=action if action_named(action) else "other"))] += 1
        if action in RECONCILE_ACTIONS:
            counters[("portal_reconciliations", _labels(outcome=outcome))] += 1
    for (service, endpoint, method, status), (count, seconds, buckets) in calls.items():
        _bump(
            ScpCallStat,
            {"service": service, "endpoint": endpoint, "method": method, "status": status},
            count=F("count") + count,
            seconds_sum=F("seconds_sum") + seconds,
            **{f"b{i}": F(f"b{i}") + n for i, n in buckets.items()},
        )
    for (name, labels), n in counters.items():
        _bump(MetricCounter, {"name": name, "labels": labels}, value=F("value") + n)
    MetricCounter.objects.filter(pk=cursor.pk).update(value=head)
    return head - start


_LABEL = re.compile(r'(\w+)="([^"]*)"')


# Gauges of the domain apps (requests by state, drift findings), registered by them at start-up.
COLLECTORS: list[Callable[[], Iterable[Any]]] = []


def register_collector(collect: Callable[[], Iterable[Any]]) -> None:
    if collect not in COLLECTORS:
        COLLECTORS.append(collect)


class PortalCollector:
    def collect(self):
        for collect in COLLECTORS:
            yield from collect()
        yield from self._scp_calls()
        yield from self._counters()
        yield from self._tasks()
        yield from self._effects()
        yield from self._operations()

    def _scp_calls(self):
        calls = CounterMetricFamily(
            "portal_scp_calls",
            "SCP HTTP calls by endpoint and status",
            labels=["service", "endpoint", "method", "status"],
        )
        latency = HistogramMetricFamily(
            "portal_scp_call_duration_seconds", "SCP call latency", labels=["service", "endpoint", "method"]
        )
        merged: dict[tuple[str, str, str], tuple[list[int], float]] = {}
        for row in ScpCallStat.objects.order_by("service", "endpoint", "method", "status"):
            calls.add_metric([row.service, row.endpoint, row.method, row.status], row.count)
            key = (row.service, row.endpoint, row.method)
            counts, total = merged.get(key, ([0] * (len(LATENCY_BUCKETS) + 1), 0.0))
            merged[key] = ([c + getattr(row, f"b{i}") for i, c in enumerate(counts)], total + row.seconds_sum)
        for key, (counts, total) in merged.items():
            cumulative, running = [], 0
            for bound, count in zip([*map(str, LATENCY_BUCKETS), "+Inf"], counts, strict=True):
                running += count
                cumulative.append((bound, running))
            latency.add_metric(list(key), cumulative, total)
        yield calls
        yield latency

    def _counters(self):
        refusals = CounterMetricFamily("portal_refusals", "Refused actions, by audit action", labels=["action"])
        reconciliations = CounterMetricFamily(
            "portal_reconciliations", "Reconciliations by outcome", labels=["outcome"]
        )
        families = {"portal_refusals": ("action", refusals), "portal_reconciliations": ("outcome", reconciliations)}
        for row in MetricCounter.objects.filter(name__in=families).order_by("name", "labels"):
            label, family = families[row.name]
            family.add_metric([dict(_LABEL.findall(row.labels)).get(label, "")], row.value)
        yield from (family for _, family in families.values())
        yield CounterMetricFamily("portal_audit_events", "Audit events appended", value=chain_head()[0])

    def _effects(self):
        backlog = effects_backlog()
        effects = GaugeMetricFamily("portal_effects", "Outbox effects not delivered, by state", labels=["state"])
        for state in ("pending", "failing", "given_up"):
            effects.add_metric([state], backlog[state])
        yield effects
        yield GaugeMetricFamily(
            "portal_effect_oldest_age_seconds", "Age of the oldest undelivered effect", value=backlog["oldest_seconds"]
        )
        yield from self._witnesses()

    def _witnesses(self):
        states = witness_states()
        size = GaugeMetricFamily(
            "portal_audit_witness_size", "The newest checkpoint each witness cosigned", labels=["witness"]
        )
        quiet = GaugeMetricFamily(
            "portal_audit_witness_quiet",
            "1 when a witness has gone quiet (AUDIT_WITNESS_QUIET_SECONDS)",
            labels=["witness"],
        )
        for state in states:
            size.add_metric([state["name"]], state["size"])
            quiet.add_metric([state["name"]], int(state["quiet"]))
        yield size
        yield quiet
        lag = GaugeMetricFamily(
            "portal_audit_stream_lag_events", "Audit events a SIEM stream has not delivered", labels=["stream"]
        )
        failing = GaugeMetricFamily(
            "portal_audit_stream_failing", "1 while a SIEM stream's receiver refuses", labels=["stream"]
        )
        for state in stream_states():
            lag.add_metric([state["name"]], state["lag"])
            failing.add_metric([state["name"]], int(state["failing_since"] is not None))
        yield lag
        yield failing

    def _tasks(self):
        ready = DBTaskResult.objects.ready()
        yield GaugeMetricFamily("portal_task_queue_depth", "Tasks ready to run", value=ready.count())
        oldest = ready.order_by("enqueued_at").values_list("enqueued_at", flat=True).first()
        age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily("portal_task_oldest_age_seconds", "Age of the oldest task ready to run", value=age)

    def _operations(self):
        now = timezone.now()
        beats = GaugeMetricFamily(
            "portal_heartbeat_age_seconds", "Seconds since a process's last heartbeat", labels=["process"]
        )
        for beat in Heartbeat.objects.order_by("name"):
            beats.add_metric([beat.name], (now - beat.beat_at).total_seconds())
        yield beats
        days = GaugeMetricFamily(
            "portal_scp_api_version_days_left",
            "Days until the Not Before date of each SCP API version SCP publishes",
            labels=["service", "version", "status"],
        )
        today = dt.datetime.now(dt.UTC).date()
        for entry in ScpApiVersion.objects.exclude(not_before=None):
            days.add_metric([entry.service, entry.version, entry.status], (entry.not_before - today).days)
        yield days


def metrics_text() -> bytes:
    metrics_fold()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PortalCollector())
    return generate_latest(registry)
