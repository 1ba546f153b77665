from django import forms
from django.utils.translation import gettext_lazy as _

from .events import AuditAction, Category
from .models import Outcome
from .selectors import EventFilter

# What the Action filter suggests: every action of the catalogue, each prefix of them and each category (it still
# takes any string, e.g. an old action).
KNOWN_ACTIONS = tuple(
    sorted(
        {action.value for action in AuditAction}
        | {action.value.rsplit(".", n)[0] for action in AuditAction for n in range(1, action.value.count(".") + 1)}
        | {category.value for category in Category}
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
        data = super().clean() or {}
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
