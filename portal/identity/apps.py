from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "portal.identity"
    label = "identity"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (the list of each user's sessions)
