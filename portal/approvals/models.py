import fnmatch

from django.db import models


class PolicyOutcome(models.TextChoices):
    AUTO_APPROVE = "auto_approve", "Approve automatically"
    REQUIRE_APPROVAL = "require_approval", "Require approval"


class ModeMatch(models.TextChoices):
    ANY = "any", "Any mode"
    SUBNET = "subnet", "New port on a subnet"
    PORT = "port", "Existing port"


class FixedIpMatch(models.TextChoices):
    ANY = "any", "Either"
    WITH = "with", "Fixed IPs given"
    WITHOUT = "without", "No fixed IPs"


class ApprovalPolicy(models.Model):
    """A rule deciding whether a request needs an approver. Policies are tried in `order`; the first match wins."""

    name = models.CharField(max_length=100, unique=True)
    order = models.PositiveIntegerField(default=100)
    enabled = models.BooleanField(default=True)
    server_name_pattern = models.CharField(
        max_length=200, default="*", help_text="Shell-style pattern, e.g. prod-* (case-insensitive)."
    )
    vpc_id = models.CharField(max_length=64, blank=True, help_text="Empty matches every VPC.")
    mode = models.CharField(max_length=8, choices=ModeMatch.choices, default=ModeMatch.ANY)
    fixed_ips = models.CharField(max_length=8, choices=FixedIpMatch.choices, default=FixedIpMatch.ANY)
    outcome = models.CharField(max_length=20, choices=PolicyOutcome.choices)
    approver_group = models.ForeignKey(
        "auth.Group", null=True, blank=True, on_delete=models.PROTECT, help_text="Required when approval is required."
    )

    class Meta:
        ordering = ["order", "id"]
        verbose_name_plural = "approval policies"

    def __str__(self) -> str:
        return self.name

    def matches(self, *, server_name: str, vpc_id: str, mode: str, has_fixed_ips: bool) -> bool:
        if not fnmatch.fnmatchcase(server_name.lower(), (self.server_name_pattern or "*").lower()):
            return False
        if self.vpc_id and self.vpc_id != vpc_id:
            return False
        if self.mode != ModeMatch.ANY and self.mode != mode:
            return False
        if self.fixed_ips == FixedIpMatch.WITH and not has_fixed_ips:
            return False
        if self.fixed_ips == FixedIpMatch.WITHOUT and has_fixed_ips:
            return False
        return True

    def clean(self):
        from django.core.exceptions import ValidationError

        if self.outcome == PolicyOutcome.REQUIRE_APPROVAL and self.approver_group_id is None:
            raise ValidationError({"approver_group": "A policy that requires approval must name the approver group."})
