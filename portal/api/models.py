from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop


class Scope(models.TextChoices):
    READ = "read", _("read: servers, subnets, ports and your own requests")
    REQUEST = "request", _("request: preview, submit and cancel attach requests")
    APPROVE = "approve", _("approve: your approval queue and decisions")
    AUDIT = "audit", _("audit: the audit log, its export, verification and anchor")


class ApiToken(models.Model):
    """A personal access token. The secret is shown once; only its SHA-256 is kept, beside a public prefix.

    A token acts as its user with at most its scopes, and never beyond the user's roles at the time of use.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(
        _("prefix"), max_length=32, unique=True
    )  # public: shown in lists and named in audit events
    secret_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(_("scopes"), default=list)
    created_at = models.DateTimeField(_("created"))
    expires_at = models.DateTimeField(_("expires"))
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(_("last used from"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The rate limit's fixed window: when the current minute began and how many calls it has seen.
    window_started_at = models.DateTimeField(null=True, blank=True)
    window_calls = models.PositiveIntegerField(default=0)
    # The creating form's one-time key: a re-posted form (a reload) makes no second token.
    creation_key = models.UUIDField(null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "creation_key"], name="one_token_per_creation_key")]

    def __str__(self) -> str:
        return f"{self.prefix} ({self.name})"

    def state(self, now) -> str:
        """revoked, expired or active (the profile page shows these words translated)."""
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "active"


# The token states as words on the profile page ({% translate state %} finds these).
TOKEN_STATE_WORDS = (gettext_noop("active"), gettext_noop("expired"), gettext_noop("revoked"))
