from django.db import models
from django.utils.translation import gettext_lazy as _


class DriftKind(models.TextChoices):
    ADDED_OUTSIDE = "added_outside", _("Added outside the portal")
    GONE = "gone", _("Attached by the portal, now gone")
    PORT_ERROR = "port_error", _("Port in ERROR")


class DriftRun(models.Model):
    """One comparison of every server's interfaces in SCP with what the portal's succeeded requests explain."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=20)  # "schedule", or the user name of whoever asked
    servers_checked = models.PositiveIntegerField(default=0)
    findings_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)  # why the run could not finish (SCP unreachable, say)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"drift run {self.pk} at {self.started_at:%Y-%m-%d %H:%M}"


class DriftFinding(models.Model):
    run = models.ForeignKey(DriftRun, on_delete=models.CASCADE, related_name="findings")
    kind = models.CharField(max_length=20, choices=DriftKind.choices)
    server_id = models.CharField(max_length=64)
    server_name = models.CharField(max_length=255)
    vpc_id = models.CharField(max_length=64, blank=True)
    port_id = models.CharField(max_length=64)
    addresses = models.JSONField(default=list)
    request_id = models.BigIntegerField(null=True, blank=True)  # the portal's request that explains the port, if any
    detail = models.TextField()

    class Meta:
        ordering = ["server_name", "kind", "port_id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.port_id} on {self.server_name}"
