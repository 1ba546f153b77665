from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TeamsConfig(AppConfig):
    verbose_name = _("Teams")
    name = "portal.teams"
    label = "teams"
