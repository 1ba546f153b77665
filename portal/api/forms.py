import datetime as dt
import uuid

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import Scope


class TokenForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What the token is for, e.g. “nightly CI attach”."),
        error_messages={"required": _("Give the token a name, so you know it again in this list.")},
    )
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one scope.")},
    )
    expires_on = forms.DateField(
        label=_("Expires on"),
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"required": _("Choose when the token expires."), "invalid": _("Enter a date as YYYY-MM-DD.")},
    )

    creation_key = forms.UUIDField(widget=forms.HiddenInput, error_messages={"invalid": _("Reload the page.")})

    def __init__(self, *args, allowed: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.max_days = settings.CONFIG.api_token_max_days
        self.fields["scopes"].choices = [(value, label) for value, label in Scope.choices if value in allowed]
        today = timezone.localdate()
        self.fields["expires_on"].widget.attrs.update(
            min=(today + dt.timedelta(days=1)).isoformat(), max=(today + dt.timedelta(days=self.max_days)).isoformat()
        )
        self.fields["expires_on"].help_text = _("At most %(n)d days from today.") % {"n": self.max_days}
        self.initial.setdefault("expires_on", today + dt.timedelta(days=min(30, self.max_days)))
        self.initial.setdefault("scopes", [Scope.READ.value])
        self.initial.setdefault("creation_key", uuid.uuid4())

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if any(ord(c) < 32 for c in name):
            raise forms.ValidationError(_("Use plain text for the name."))
        return name

    def clean_expires_on(self):
        day = self.cleaned_data["expires_on"]
        today = timezone.localdate()
        if day <= today:
            raise forms.ValidationError(_("Choose a day after today."))
        if day > today + dt.timedelta(days=self.max_days):
            raise forms.ValidationError(_("Choose a day at most %(n)d days from today.") % {"n": self.max_days})
        return day

    def expires_at(self) -> dt.datetime:
        """The end of the chosen day, in the portal's time zone."""
        day = self.cleaned_data["expires_on"]
        end = dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=timezone.get_current_timezone())
        return min(end, timezone.now() + dt.timedelta(days=self.max_days))
