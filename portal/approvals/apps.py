from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApprovalsConfig(AppConfig):
    verbose_name = _("Approvals")
    name = "portal.approvals"
    label = "approvals"

    def ready(self) -> None:
        from portal.core.roles import register_navigation_count

        from .selectors import pending_count_for

        register_navigation_count(
            "pending_approvals", needs="is_approver", count=lambda user: pending_count_for(user=user)
        )
