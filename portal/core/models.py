"""Operational state shared by every process: heartbeats, counters for /metrics, SCP's published API versions.

These live in the database because the portal runs as several processes (gunicorn workers, db_worker, scheduler)
on several machines: a counter in one process's memory would show a fraction of the truth.
"""

from django.db import models

# Upper bounds (seconds) of the SCP call latency histogram; the last bucket is +Inf.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Heartbeat(models.Model):
    """The last time a background process showed it was alive and doing its work."""

    name = models.CharField(max_length=40, primary_key=True)  # "worker", "scheduler"
    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.beat_at:%Y-%m-%d %H:%M:%S}"


class MetricCounter(models.Model):
    """A count folded from the audit log, by name and a canonical label string (`action="x",outcome="y"`).

    The row named `_audit_seq_folded` is the cursor: the last audit event folded into the counters.
    """

    name = models.CharField(max_length=100)
    labels = models.CharField(max_length=400, blank=True)
    value = models.FloatField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "labels"], name="one_counter_per_series")]

    def __str__(self) -> str:
        return f"{self.name}{{{self.labels}}} {self.value:g}"


class ScpCallStat(models.Model):
    """SCP calls by endpoint and status, with a latency histogram, folded from the audit log's scp.call events."""

    service = models.CharField(max_length=20)
    endpoint = models.CharField(max_length=80)  # the path with ids replaced: /v1/servers/{id}/interfaces
    method = models.CharField(max_length=8)
    status = models.CharField(max_length=20)  # the HTTP status, or the error class when there was none
    count = models.BigIntegerField(default=0)
    seconds_sum = models.FloatField(default=0)
    # Calls whose latency fell in each bucket (b0 ≤ 0.05 s … b9 = +Inf), not cumulative: /metrics adds them up.
    b0 = models.BigIntegerField(default=0)
    b1 = models.BigIntegerField(default=0)
    b2 = models.BigIntegerField(default=0)
    b3 = models.BigIntegerField(default=0)
    b4 = models.BigIntegerField(default=0)
    b5 = models.BigIntegerField(default=0)
    b6 = models.BigIntegerField(default=0)
    b7 = models.BigIntegerField(default=0)
    b8 = models.BigIntegerField(default=0)
    b9 = models.BigIntegerField(default=0)  # +Inf

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "endpoint", "method", "status"], name="one_row_per_scp_series")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.service}{self.endpoint} {self.status}: {self.count}"


class ScpApiVersion(models.Model):
    """One entry of a service's version list, as SCP last published it (`GET /` on the service)."""

    service = models.CharField(max_length=20)
    version = models.CharField(max_length=10)
    status = models.CharField(max_length=20)
    not_before = models.DateField(null=True, blank=True)
    fetched_at = models.DateTimeField()
    notified = models.CharField(max_length=40, blank=True)  # the last warning sent about it ("level:date")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["service", "version"], name="one_entry_per_version")]
        ordering = ["service", "version"]

    def __str__(self) -> str:
        return f"{self.service} {self.version} {self.status}"


class MailSent(models.Model):
    """One mail sent to one recipient for one reason (an effect of the outbox): a repeated delivery of that effect
    skips who was mailed already, so a requester reads "approved" once whatever happened to the worker."""

    key = models.CharField(max_length=64)  # "effect:<id>"
    recipient = models.CharField(max_length=254)
    sent_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "recipient"], name="one_mail_per_key_and_recipient")]

    def __str__(self) -> str:
        return f"{self.key} to {self.recipient}"
