from django.db import models
from django.utils.translation import gettext_lazy as _


class Outcome(models.TextChoices):
    SUCCESS = "success", _("Success")
    FAILURE = "failure", _("Failure")
    DENIED = "denied", _("Denied")
    PENDING = "pending", _("Pending")
    UNKNOWN = "unknown", _("Unknown")


class AppendOnlyError(Exception):
    """Audit events are never changed or deleted."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("audit events cannot be updated")

    def delete(self):
        raise AppendOnlyError("audit events cannot be deleted")


class AuditEvent(models.Model):
    """One entry of the append-only, hash-chained audit log. Written only by `audit.services.record_event`."""

    seq = models.BigIntegerField(_("sequence"), unique=True, editable=False)
    created_at = models.DateTimeField(_("time"), editable=False)
    action = models.CharField(_("action"), max_length=64)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    actor_id = models.BigIntegerField(null=True, blank=True)  # not a FK: the event outlives the account
    actor_name = models.CharField(_("actor"), max_length=150, blank=True)
    source_ip = models.GenericIPAddressField(_("source IP"), null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)
    correlation_id = models.CharField(_("correlation id"), max_length=64, blank=True)
    interface_request_id = models.BigIntegerField(null=True, blank=True)
    target = models.CharField(_("target"), max_length=128, blank=True)
    payload = models.JSONField(_("payload"), default=dict)
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, unique=True, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-seq"]
        indexes = [
            models.Index(fields=["action", "seq"], name="audit_action_seq"),
            models.Index(fields=["outcome", "seq"], name="audit_outcome_seq"),
            models.Index(fields=["actor_name", "seq"], name="audit_actor_seq"),
            models.Index(fields=["target", "seq"], name="audit_target_seq"),
            models.Index(fields=["interface_request_id", "seq"], name="audit_request_seq"),
            models.Index(fields=["created_at"], name="audit_created"),
            models.Index(fields=["correlation_id"], name="audit_correlation"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.outcome}"

    def save(self, *args, **kwargs):
        if self.pk is not None or not kwargs.get("force_insert"):
            raise AppendOnlyError("audit events are appended through audit.services.record_event only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit events cannot be deleted")


class AuditChainHead(models.Model):
    """The single row that serialises appends: its lock orders writers, its values are the chain's tip."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"audit chain head at seq {self.last_seq}"


class VerificationRun(models.Model):
    """The outcome of one `audit_verify` over the database, shown as the integrity badge."""

    ran_at = models.DateTimeField()
    ok = models.BooleanField()
    events = models.BigIntegerField()
    message = models.TextField()

    class Meta:
        ordering = ["-ran_at"]

    def __str__(self) -> str:
        return self.message


class Effect(models.Model):
    """Something that must follow a committed change (start an execution, send a mail, later a webhook): written
    in the same transaction as the change and its audit event, delivered by the worker at least once.

    Handlers are idempotent, so a delivery that is repeated (its worker died after the handler ran) changes
    nothing twice. A failed delivery is tried again with backoff until MAX_ATTEMPTS, then given up, visibly.
    """

    kind = models.CharField(_("kind"), max_length=64)  # the name a handler is registered under
    interface_request_id = models.BigIntegerField(null=True, blank=True)  # the request it is about, if any
    args = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("created"))
    due_at = models.DateTimeField(_("due"))
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    locked_until = models.DateTimeField(null=True, blank=True)  # a delivery under way (its lease)
    last_error = models.TextField(_("last error"), blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    given_up_at = models.DateTimeField(_("given up"), null=True, blank=True)

    class Meta:
        verbose_name = _("effect")
        verbose_name_plural = _("effects")
        ordering = ["-id"]
        indexes = [models.Index(fields=["delivered_at", "given_up_at", "due_at"], name="effect_due")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.interface_request_id})"


class RefusalTally(models.Model):
    """Refusals of one kind from one source address in its current window: the first is an audit event at once,
    the rest are counted here and written as one event with their count when the window ends (audit.refusals), so
    that nobody can grow the append-only log by calling without credentials."""

    action = models.CharField(max_length=64)
    kind = models.CharField(max_length=64, blank=True)  # the refusal's reason, or the user name tried
    source = models.CharField(max_length=64)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["action", "kind", "source"], name="one_tally_per_kind_and_source")
        ]

    def __str__(self) -> str:
        return f"{self.action} from {self.source}: {self.count}"


class AuditCheckpoint(models.Model):
    """A signed checkpoint of the audit log's Merkle tree (audit.checkpoints): its size and root, the chain hash
    of its last event and its tree's right edge (the next one continues from them), and the signed note."""

    size = models.BigIntegerField(unique=True)
    root = models.CharField(max_length=64)  # hex
    last_hash = models.CharField(max_length=64)  # the chain hash of event `size`
    peaks = models.JSONField()  # hex, the roots of the tree's perfect subtrees, largest first
    note = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-size"]

    def __str__(self) -> str:
        return f"checkpoint {self.size}"


class AuditCosignature(models.Model):
    """A witness's cosignature of a checkpoint (c2sp.org/tlog-cosignature), checked against its key when it came:
    the witness verified that this checkpoint extends every earlier one it saw."""

    checkpoint = models.ForeignKey(AuditCheckpoint, on_delete=models.PROTECT, related_name="cosignatures")
    witness = models.CharField(max_length=200)  # the cosigner's key name
    key_id = models.BigIntegerField()
    signed_at = models.DateTimeField()  # the witness's own timestamp, inside what it signed
    line = models.TextField()  # the note signature line, as the witness sent it
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-checkpoint__size", "witness"]
        constraints = [models.UniqueConstraint(fields=["checkpoint", "witness"], name="one_cosignature_per_witness")]

    def __str__(self) -> str:
        return f"{self.witness} on checkpoint {self.checkpoint.size}"


class AuditStreamCursor(models.Model):
    """How far one stream to a SIEM has got (audit.streams): every event up to `seq` was accepted by its receiver."""

    name = models.CharField(max_length=32, unique=True)
    seq = models.BigIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"stream {self.name} at {self.seq}"
