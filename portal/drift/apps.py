from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DriftConfig(AppConfig):
    verbose_name = _("Drift report")
    name = "portal.drift"
    label = "drift"
