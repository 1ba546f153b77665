from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DriftConfig(AppConfig):
    verbose_name = _("Drift report")
    name = "portal.drift"
    label = "drift"

    def ready(self) -> None:
        from portal.core.metrics import register_collector

        from .effects import register_handlers
        from .metrics import latest_scan

        register_collector(latest_scan)
        register_handlers()
