from django.apps import AppConfig


class DriftConfig(AppConfig):
    name = "portal.drift"
    label = "drift"
    verbose_name = "Drift report"
