"""Sign-in through an OpenID Connect provider: who an IdP subject is here, and what its groups grant."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.teams.models import Team


class Identity(models.Model):
    """An IdP account (issuer + subject) and the portal user it signs in as."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="identities")
    issuer = models.CharField(_("issuer"), max_length=255)
    subject = models.CharField(_("subject"), max_length=255)
    last_login_at = models.DateTimeField(_("last sign-in"), null=True, blank=True)
    last_groups = models.JSONField(
        _("groups at the last sign-in"), default=list, blank=True
    )  # the IdP groups at the last sign-in
    # Provisioned over SCIM: by which IdP, and the userName it gave (the resource's id is this row's pk).
    scim_client = models.ForeignKey(
        "ScimClient", null=True, blank=True, on_delete=models.PROTECT, related_name="identities"
    )
    scim_user_name = models.CharField(_("SCIM userName"), max_length=255, blank=True)
    scim_external_id = models.CharField(_("SCIM externalId"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("identity")
        verbose_name_plural = _("identities")
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="one_user_per_idp_subject")]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"


class TeamRole(models.TextChoices):
    MEMBER = "member", _("Member (requests on the team's servers)")
    AUDITOR = "auditor", _("Auditor (reads the team's requests and events)")


class GroupMapping(models.Model):
    """What one IdP group grants: a portal group (an approver group, or `auditor`), a team role, or both.

    Applied at every sign-in through the IdP: the user's groups and teams become exactly what their IdP groups
    map to, so removing someone from an IdP group removes the access at their next sign-in.
    """

    idp_group = models.CharField(
        _("IdP group"), max_length=255, help_text=_("The group's name as the IdP sends it in the groups claim.")
    )
    portal_group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    team_role = models.CharField(_("team role"), max_length=8, choices=TeamRole.choices, default=TeamRole.MEMBER)

    class Meta:
        verbose_name = _("IdP group mapping")
        verbose_name_plural = _("IdP group mappings")
        ordering = ["idp_group", "id"]

    def __str__(self) -> str:
        grants = [
            f"group {self.portal_group}" if self.portal_group_id else "",
            f"{self.team_role} of {self.team}" if self.team_id else "",
        ]
        return f"{self.idp_group} → {', '.join(g for g in grants if g)}"

    def clean(self):
        if not self.portal_group_id and not self.team_id:
            raise ValidationError(_("Map the IdP group to a portal group, a team, or both."))


class UserSession(models.Model):
    """A signed-in browser session, so that its user can see it and end it (sign out everywhere)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="portal_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)

    class Meta:
        ordering = ["-last_seen_at"]

    def __str__(self) -> str:
        return f"{self.user} since {self.started_at:%Y-%m-%d %H:%M}"


class Preferences(models.Model):
    """What a user chose for the pages: their language (empty: the browser's) and time zone (empty: UTC)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences")
    language = models.CharField(max_length=8, blank=True, choices=settings.LANGUAGES)
    time_zone = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = _("preferences")
        verbose_name_plural = _("preferences")

    def __str__(self) -> str:
        return f"{self.user}: {self.language or 'browser'}, {self.time_zone or 'UTC'}"


class ScimClient(models.Model):
    """An IdP that provisions users and groups over SCIM 2.0, with its own bearer token (kept as its SHA-256).

    Its users are linked as identities of `issuer` (the IdP's OpenID Connect issuer), with the SCIM externalId
    (else the userName) as their subject: the same person then signs in through the IdP as the same user.
    """

    name = models.CharField(_("name"), max_length=64, unique=True)
    issuer = models.CharField(_("issuer"), max_length=255)
    token_prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("SCIM client")
        verbose_name_plural = _("SCIM clients")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.issuer})"


class ScimGroup(models.Model):
    """A group an IdP pushed over SCIM. Its displayName is the IdP group name the group mappings name, so a
    member gets exactly what the mappings of their SCIM groups grant, as at a sign-in."""

    client = models.ForeignKey(ScimClient, on_delete=models.CASCADE, related_name="groups")
    display_name = models.CharField(_("display name"), max_length=255)
    external_id = models.CharField(max_length=255, blank=True)
    members = models.ManyToManyField(Identity, blank=True, related_name="scim_groups")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = _("SCIM group")
        verbose_name_plural = _("SCIM groups")
        ordering = ["client", "display_name"]
        constraints = [
            models.UniqueConstraint(fields=["client", "display_name"], name="one_scim_group_per_name_and_client")
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.client.name})"
