from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .registry import operation_named

if TYPE_CHECKING:
    from .operations.base import Operation


class Status(models.TextChoices):
    PENDING_APPROVAL = "pending_approval", _("Pending approval")
    APPROVED = "approved", _("Approved")
    EXECUTING = "executing", _("Executing")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    UNKNOWN = "unknown", _("Outcome unknown")
    REJECTED = "rejected", _("Rejected")
    EXPIRED = "expired", _("Expired")
    CANCELLED = "cancelled", _("Cancelled")


FINAL_STATUSES = frozenset({Status.SUCCEEDED, Status.FAILED, Status.REJECTED, Status.EXPIRED, Status.CANCELLED})


class Action(models.TextChoices):
    ATTACH = "attach", _("Attach")
    DETACH = "detach", _("Detach")


class Mode(models.TextChoices):
    SUBNET = "subnet", _("New port on a subnet")
    PORT = "port", _("Existing port")


# What the requester asked for: fixed at submission, bound by the approval, never changed afterwards.
PARAMETER_FIELDS = frozenset(
    {
        "requester",
        "idempotency_key",
        "action",
        "server_id",
        "server_name",
        "vpc_id",
        "mode",
        "subnet_id",
        "subnet_name",
        "subnet_cidr",
        "subnet_gateway",
        "port_id",
        "port_name",
        "fixed_ips",
        "parameters",
        "justification",
        "api_version",
        "created_at",
        "team",
        "team_id",
        "approval_steps",
    }
)


TEMPLATE_PARTS = ("title", "what", "queue_what", "summary", "cancel", "result")


class FrozenParametersError(Exception):
    pass


class InterfaceRequest(models.Model):
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("requester")
    )
    idempotency_key = models.UUIDField()
    created_at = models.DateTimeField(_("created"))
    # Attach a new or existing port, or detach the interface `port_id` (mode is then "port").
    action = models.CharField(max_length=32, choices=Action.choices, default=Action.ATTACH)  # its operation's name
    server_id = models.CharField(max_length=64)
    server_name = models.CharField(_("server"), max_length=255)
    vpc_id = models.CharField(max_length=64)
    mode = models.CharField(_("mode"), max_length=8, choices=Mode.choices)
    subnet_id = models.CharField(max_length=64, blank=True)
    subnet_name = models.CharField(max_length=255, blank=True)
    subnet_cidr = models.CharField(max_length=64, blank=True)
    subnet_gateway = models.CharField(max_length=45, blank=True)  # as at submission; "": none, or not recorded
    port_id = models.CharField(max_length=64, blank=True)
    port_name = models.CharField(max_length=255, blank=True)
    fixed_ips = models.JSONField(default=list, blank=True)
    # What an operation keeps beyond these columns (attach and detach need none).
    parameters = models.JSONField(default=dict, blank=True)
    justification = models.TextField(max_length=1000)
    api_version = models.CharField(max_length=16)
    # The team on whose behalf it was asked (it owned the server then); scopes who may see and decide it.
    team = models.ForeignKey("teams.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    status = models.CharField(_("status"), max_length=20, choices=Status.choices, db_index=True)
    status_reason = models.TextField(blank=True)
    updated_at = models.DateTimeField()
    policy_name = models.CharField(max_length=100, blank=True)
    # The policy's steps as they stood at submission: [{"groups": [...], "required": K}, ...].
    approval_steps = models.JSONField(default=list, blank=True)
    current_step = models.PositiveSmallIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_comment = models.TextField(blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The live check the request was accepted on: when SCP was asked, and what it said (the plan's facts, the
    # server's interfaces among them). The worker sends on it while it is fresh (see services.checks).
    checked_at = models.DateTimeField(null=True, blank=True)
    check_facts = models.JSONField(null=True, blank=True)
    ports_before = models.JSONField(null=True, blank=True)  # the server's port ids just before the POST
    result = models.JSONField(null=True, blank=True)  # the interface SCP reported
    result_port_id = models.CharField(max_length=64, blank=True)
    # Execution attempts that could not reach SCP before sending anything, and when the next may run.
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A write that reconciliation found not applied may still be applied by SCP (its answer was lost, not its
    # work): the request is looked at again, with backoff, until watch_until.
    watch_until = models.DateTimeField(null=True, blank=True)
    watch_next_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # A sent write not (yet) found on the server stays open until late_until (LATE_APPLY_WINDOW_SECONDS): SCP may
    # still be carrying it out, and its server takes no other write meanwhile.
    late_until = models.DateTimeField(null=True, blank=True)
    # When SCP answered this attempt's write: from then on its outcome is a known port (or none), and the server
    # may take its next write while this one settles.
    answered_at = models.DateTimeField(null=True, blank=True)
    # An approved request waiting for another write on its server to settle (one write in flight per server).
    waits_for = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    # Not stored: True on the instance the submission that recorded it returns (an earlier request with the same
    # idempotency key comes back without it), so that an API answers 201 once and 200 after.
    submitted_now = False

    class Meta:
        verbose_name = _("interface request")
        verbose_name_plural = _("interface requests")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["requester", "idempotency_key"], name="one_request_per_idempotency_key")
        ]
        indexes = [
            models.Index(fields=["requester", "-created_at"], name="request_by_requester"),
            models.Index(fields=["status", "updated_at"], name="request_status_updated"),
        ]

    def __str__(self) -> str:
        return f"Request {self.pk} ({self.get_status_display()})"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            fields = kwargs.get("update_fields")
            if fields is None or PARAMETER_FIELDS & set(fields):
                raise FrozenParametersError("a request's parameters never change after submission")
        super().save(*args, **kwargs)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def current_step_spec(self) -> dict | None:
        steps = self.approval_steps or []
        return steps[self.current_step] if self.current_step < len(steps) else None

    @property
    def operation(self) -> Operation:
        """The operation this request asks for (attach, detach, ...), as registered at start-up."""
        return operation_named(self.action)

    @property
    def parts(self) -> dict[str, list[str]]:
        """The templates that word this request on pages: its operation's own, else the generic ones (`what`)."""
        return {
            part: [f"interfaces/operations/{self.action}/{part}.html", f"interfaces/operations/{part}.html"]
            for part in TEMPLATE_PARTS
        }

    @property
    def what(self) -> str:
        """What the request asks, as its operation says it."""
        return self.operation.describe(self)

    @property
    def call_method(self) -> str:
        return self.operation.call(self).method

    @property
    def call_path(self) -> str:
        return self.operation.call(self).path

    @property
    def attach_body(self) -> dict | None:
        """The call's JSON body (None for a call without one, such as a detach's DELETE)."""
        return self.operation.call(self).body

    @property
    def parameters_digest(self) -> str:
        """A digest of exactly what will be sent; an approval binds to it."""
        return self.operation.digest(self)


class FixedIpHold(models.Model):
    """A fixed IP an open request will ask SCP for: nobody else may ask for it until that request ends.

    One row per (subnet, address), unique, written in the submitting transaction: of two requests racing for one
    address, exactly one commits. The lifecycle deletes the rows when the request reaches a final state.
    """

    request = models.ForeignKey(InterfaceRequest, on_delete=models.CASCADE, related_name="holds")
    subnet_id = models.CharField(max_length=64)
    address = models.CharField(max_length=45)  # canonical form (ipaddress), so 2001:DB8::5 and 2001:db8::5 clash

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subnet_id", "address"], name="one_hold_per_address")]

    def __str__(self) -> str:
        return f"{self.address} on {self.subnet_id} for request {self.request_id}"


class ServerSlot(models.Model):
    """One row per server that the portal has written to: the lock its writes are started under.

    A write may start only while no other write on its server has an open outcome (see services.execution); the
    claim locks this row first, so of two workers starting writes on one server, the second sees the first. Every
    interface that appears on a server then has one request that can have made it, and a lost answer is settled
    by looking, not by guessing.
    """

    server_id = models.CharField(max_length=64, primary_key=True)
    claimed_at = models.DateTimeField(null=True)  # the last claim (or wait) made under the lock

    def __str__(self) -> str:
        return self.server_id
