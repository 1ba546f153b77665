from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "portal.audit"
    label = "audit"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (sign-in, sign-out and failed sign-in)
