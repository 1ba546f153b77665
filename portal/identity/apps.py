from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IdentityConfig(AppConfig):
    verbose_name = _("Identity")
    name = "portal.identity"
    label = "identity"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (the list of each user's sessions)
