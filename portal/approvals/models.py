import fnmatch

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class PolicyOutcome(models.TextChoices):
    AUTO_APPROVE = "auto_approve", _("Approve automatically")
    REQUIRE_APPROVAL = "require_approval", _("Require approval")


class ModeMatch(models.TextChoices):
    ANY = "any", _("Any mode")
    SUBNET = "subnet", _("New port on a subnet")
    PORT = "port", _("Existing port")


class ActionMatch(models.TextChoices):
    ANY = "any", _("Attach and detach")
    ATTACH = "attach", _("Attach only")
    DETACH = "detach", _("Detach only")


class FixedIpMatch(models.TextChoices):
    ANY = "any", _("Either")
    WITH = "with", _("Fixed IPs given")
    WITHOUT = "without", _("No fixed IPs")


class ApprovalPolicy(models.Model):
    """A rule deciding whether a request needs an approver. Policies are tried in `order`; the first match wins."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    order = models.PositiveIntegerField(_("order"), default=100)
    enabled = models.BooleanField(_("enabled"), default=True)
    server_name_pattern = models.CharField(
        _("server name pattern"),
        max_length=200,
        default="*",
        help_text=_("Shell-style pattern, e.g. prod-* (case-insensitive)."),
    )
    vpc_id = models.CharField(_("VPC id"), max_length=64, blank=True, help_text=_("Empty matches every VPC."))
    action = models.CharField(_("action"), max_length=8, choices=ActionMatch.choices, default=ActionMatch.ANY)
    mode = models.CharField(_("mode"), max_length=8, choices=ModeMatch.choices, default=ModeMatch.ANY)
    fixed_ips = models.CharField(_("fixed IPs"), max_length=8, choices=FixedIpMatch.choices, default=FixedIpMatch.ANY)
    outcome = models.CharField(_("outcome"), max_length=20, choices=PolicyOutcome.choices)

    class Meta:
        verbose_name = _("approval policy")
        verbose_name_plural = _("approval policies")
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name

    def matches(self, *, server_name: str, vpc_id: str, mode: str, has_fixed_ips: bool, action: str = "attach") -> bool:
        """Whether this policy applies. A detach matches on server, VPC and action only (it has no mode or IPs)."""
        if self.action != ActionMatch.ANY and self.action != action:
            return False
        if action == "detach":
            return (
                fnmatch.fnmatchcase(server_name.lower(), (self.server_name_pattern or "*").lower())
                and (not self.vpc_id or self.vpc_id == vpc_id)
                and self.mode == ModeMatch.ANY
                and self.fixed_ips == FixedIpMatch.ANY
            )
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

    def step_specs(self) -> list[dict]:
        """The ordered steps as a request keeps them: [{"groups": [...], "required": K}, ...]."""
        return [step.as_spec() for step in self.steps.all()]


class ApprovalStep(models.Model):
    """One step of a policy: "any one of groups G1…Gn" (required 1), or "K approvers from group G"."""

    policy = models.ForeignKey(ApprovalPolicy, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveIntegerField(default=1)
    groups = models.ManyToManyField("auth.Group", related_name="+")
    required = models.PositiveSmallIntegerField(
        default=1, help_text=_("How many different people from these groups must approve at this step.")
    )

    class Meta:
        verbose_name = _("approval step")
        verbose_name_plural = _("approval steps")
        ordering = ["order", "id"]

    def __str__(self) -> str:
        if self.pk is None:  # deleted (the admin names it after the delete): what it was, if it was read before
            return getattr(self, "_described", None) or gettext("approval step %(n)d") % {"n": self.order}
        return describe_step(self.as_spec())

    def delete(self, *args, **kwargs):
        self._described = str(self)
        return super().delete(*args, **kwargs)

    def as_spec(self) -> dict:
        return {"groups": sorted(g.name for g in self.groups.all()), "required": self.required}


def describe_step(spec: dict) -> str:
    groups = spec.get("groups") or []
    if spec.get("required", 1) > 1:
        return gettext("%(n)d approvers from %(groups)s") % {
            "n": spec["required"],
            "groups": gettext(" or ").join(groups),
        }
    if len(groups) > 1:
        return gettext("any one of %(groups)s") % {"groups": ", ".join(groups)}
    return gettext("one approver from %(groups)s") % {"groups": ", ".join(groups)}


class ApprovalDecision(models.Model):
    """One person's decision at one step of one request; bound to the parameters they were shown."""

    request = models.ForeignKey("interfaces.InterfaceRequest", on_delete=models.PROTECT, related_name="decisions")
    step = models.PositiveSmallIntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approve = models.BooleanField()
    comment = models.TextField(blank=True)
    parameters_digest = models.CharField(max_length=64)
    decided_at = models.DateTimeField()

    class Meta:
        ordering = ["decided_at", "id"]
        constraints = [
            # Nobody decides twice on one request, whatever races: the database refuses the second row.
            models.UniqueConstraint(fields=["request", "user"], name="one_decision_per_person_per_request")
        ]

    def __str__(self) -> str:
        return f"{'Approval' if self.approve else 'Rejection'} of request {self.request_id} at step {self.step + 1}"
