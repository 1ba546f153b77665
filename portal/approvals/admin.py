from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from portal.core.admin import AuditedAdmin

from .models import ApprovalPolicy, ApprovalStep, PolicyOutcome


class StepInlineFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        live = [f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        if self.instance.outcome == PolicyOutcome.REQUIRE_APPROVAL and not live:
            raise forms.ValidationError(_("A policy that requires approval needs at least one step."))
        for form in live:
            if form.cleaned_data.get("required", 1) < 1:
                form.add_error("required", _("At least one approver."))


class ApprovalStepInline(admin.TabularInline):
    model = ApprovalStep
    formset = StepInlineFormSet
    extra = 1
    filter_horizontal = ("groups",)


@admin.register(ApprovalPolicy)
class ApprovalPolicyAdmin(AuditedAdmin):
    list_display = (
        "order",
        "name",
        "enabled",
        "action",
        "server_name_pattern",
        "vpc_id",
        "mode",
        "fixed_ips",
        "outcome",
        "steps_summary",
    )
    list_display_links = ("name",)
    list_editable = ("order", "enabled")
    ordering = ("order", "id")
    inlines = [ApprovalStepInline]

    @admin.display(description=_("Steps"))
    def steps_summary(self, policy):
        return " → ".join(str(step) for step in policy.steps.all()) or "—"
