from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    verbose_name = _("Audit")
    name = "portal.audit"
    label = "audit"

    def ready(self) -> None:
        from . import (
            outbox,
            receivers,  # noqa: F401  (sign-in, sign-out and failed sign-in)
            tasks,
        )
        from .effects import register_handlers

        outbox.DELIVERY_TASK = tasks.deliver_effect
        register_handlers()
