from django import forms

from .models import Outcome
from .selectors import EventFilter


class EventFilterForm(forms.Form):
    since = forms.DateTimeField(
        label="From (UTC)", required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    until = forms.DateTimeField(
        label="Until (UTC)", required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    actor = forms.CharField(label="Actor", required=False, max_length=150)
    action = forms.CharField(label="Action", required=False, max_length=64)
    outcome = forms.ChoiceField(label="Outcome", required=False, choices=[("", "Any")] + Outcome.choices)
    server = forms.CharField(label="Server id", required=False, max_length=128)
    request = forms.IntegerField(label="Request #", required=False, min_value=1, max_value=2**62)
    q = forms.CharField(label="Text in payload", required=False, max_length=200)
    correlation = forms.CharField(label="Correlation id", required=False, max_length=64)
    before = forms.IntegerField(required=False, min_value=1, max_value=2**62, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            self.add_error("until", "Choose an end after the start.")
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
