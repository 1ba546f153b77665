"""The user's own settings: language and time zone."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .services import time_zones_for


class LanguageForm(forms.Form):
    """The navigation's switcher."""

    language = forms.ChoiceField(choices=settings.LANGUAGES)
    next = forms.CharField(required=False, max_length=2000)


class PreferencesForm(forms.Form):
    language = forms.ChoiceField(
        label=_("Language"), required=False, choices=[("", _("Follow the browser")), *settings.LANGUAGES]
    )
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        required=False,
        help_text=_("Times on every page show in this zone; hover over one to see UTC."),
    )

    def __init__(self, *args, language: str = "en", **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)
        default = _("Asia/Seoul (the default in Korean)") if language.startswith("ko") else _("UTC (the default)")
        self.fields["time_zone"].choices = [("", default)] + [(z, z) for z in time_zones_for(language)]
