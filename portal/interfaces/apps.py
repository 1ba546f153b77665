from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InterfacesConfig(AppConfig):
    verbose_name = _("Interfaces")
    name = "portal.interfaces"
    label = "interfaces"

    def ready(self) -> None:
        """The operations, the outbox's handlers, the /metrics gauges and the follow-up task, registered once."""
        from portal.core.metrics import register_collector

        from . import registry
        from .effects import register_handlers
        from .metrics import requests_by_state
        from .operations.attach import AttachOperation
        from .operations.detach import DetachOperation
        from .services import common
        from .tasks import follow_up_interface_request

        registry.register(AttachOperation())
        registry.register(DetachOperation())
        register_handlers()
        register_collector(requests_by_state)
        common.FOLLOW_UP_TASK = follow_up_interface_request
