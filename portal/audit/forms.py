from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Outcome
from .selectors import EventFilter

# What the Action filter suggests (it still takes any action: admin.<model>.<verb> ones, say).
KNOWN_ACTIONS = tuple(
    sorted(
        """
    account.preferences_changed api.access api_token.access api_token.created api_token.rate_limited
    api_token.refused api_token.revoked approval.approve approval.approved approval.auto_approved approval.decide
    approval.expired approval.queue approval.recorded approval.reject approval.rejected approval.step_completed
    audit.access audit.exported audit.verify_started auth.locked_out auth.login auth.login_failed auth.logout
    auth.password_changed auth.password_reset_requested auth.session_expired auth.signed_out_everywhere
    auth.sso_login auth.sso_refused auth.unlocked drift.requested drift.scanned interface_request.access
    interface_request.applied_late interface_request.cancel interface_request.cancelled interface_request.claimed
    interface_request.failed interface_request.invalid interface_request.reconcile_undecided
    interface_request.reconciled interface_request.retry_scheduled interface_request.submit
    interface_request.submitted interface_request.succeeded interface_request.unknown interface_request.watch_ended
    notification.failed request.rejected scp.attach.intent scp.call scp.detach.intent scp.version_warning
    server.access task.abandoned
""".split()
    )
)


class EventFilterForm(forms.Form):
    since = forms.DateTimeField(
        label=_("From"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    until = forms.DateTimeField(
        label=_("Until"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    actor = forms.CharField(label=_("Actor"), required=False, max_length=150)
    action = forms.CharField(
        label=_("Action"),
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"list": "audit-actions", "autocomplete": "off"}),
    )
    outcome = forms.ChoiceField(label=_("Outcome"), required=False, choices=[("", _("Any")), *Outcome.choices])
    server = forms.CharField(label=_("Server id"), required=False, max_length=128)
    request = forms.IntegerField(label=_("Request #"), required=False, min_value=1, max_value=2**62)
    q = forms.CharField(label=_("Text in payload"), required=False, max_length=200)
    correlation = forms.CharField(label=_("Correlation id"), required=False, max_length=64)
    before = forms.IntegerField(required=False, min_value=1, max_value=2**62, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            self.add_error("until", _("Choose an end after the start."))
        return data

    def event_filter(self) -> EventFilter:
        data = self.cleaned_data
        return EventFilter(
            since=data.get("since"),
            until=data.get("until"),
            actor=data.get("actor", "").strip(),
            action=data.get("action", "").strip(),
            outcome=data.get("outcome", ""),
            server_id=data.get("server", "").strip(),
            request_id=data.get("request"),
            text=data.get("q", "").strip(),
            correlation_id=data.get("correlation", "").strip(),
        )
