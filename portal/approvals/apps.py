from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApprovalsConfig(AppConfig):
    verbose_name = _("Approvals")
    name = "portal.approvals"
    label = "approvals"

    def ready(self) -> None:
        from .effects import register_handlers

        register_handlers()
