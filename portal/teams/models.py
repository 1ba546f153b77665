"""Teams own servers (by VPC, name pattern or id) and say who requests, approves and audits on them."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


class Team(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="teams", blank=True, help_text=_("May request on the team's servers.")
    )
    approver_groups = models.ManyToManyField(
        Group,
        related_name="approving_teams",
        blank=True,
        help_text=_(
            "Members of these groups see the team's requests and decide them when a policy step names them "
            "(or when no policy matches and APPROVAL_DEFAULT is 'team')."
        ),
    )
    auditors = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="audited_teams",
        blank=True,
        help_text=_("Read the team's requests and their audit events. Members of the 'auditor' group read everything."),
    )

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OwnershipKind(models.TextChoices):
    VPC = "vpc", _("VPC id")
    NAME_PATTERN = "name_pattern", _("Server name pattern")
    SERVER = "server", _("Server id")


class ServerOwnership(models.Model):
    """One rule by which a team owns servers; a server is the team's when any of its rules matches."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="ownerships")
    kind = models.CharField(max_length=16, choices=OwnershipKind.choices)
    value = models.CharField(
        max_length=200, help_text=_("A VPC id, a shell-style pattern such as web-* (case-insensitive), or a server id.")
    )

    class Meta:
        verbose_name = _("server ownership")
        verbose_name_plural = _("server ownerships")
        ordering = ["team", "kind", "value"]
        constraints = [models.UniqueConstraint(fields=["team", "kind", "value"], name="one_rule_per_team_kind_value")]

    def __str__(self) -> str:
        return f"{self.team}: {self.get_kind_display()} {self.value}"

    def clean(self):
        self.value = (self.value or "").strip()
        if not self.value or any(ord(c) < 32 for c in self.value):
            problem = _("Give a VPC id, a name pattern or a server id without control characters.")
            raise ValidationError({"value": problem})
