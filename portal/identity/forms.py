"""The user's own settings: their time zone."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .services import time_zones_for


class PreferencesForm(forms.Form):
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        required=False,
        help_text=_("Times on every page show in this zone; hover over one to see UTC."),
    )

    def __init__(self, *args, language: str = "en", **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)
        self.fields["time_zone"].choices = [("", _("UTC (the default)"))] + [(z, z) for z in time_zones_for(language)]
