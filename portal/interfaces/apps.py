from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InterfacesConfig(AppConfig):
    verbose_name = _("Interfaces")
    name = "portal.interfaces"
    label = "interfaces"

    def ready(self) -> None:
        from .effects import register_handlers

        register_handlers()
