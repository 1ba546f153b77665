from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApprovalsConfig(AppConfig):
    verbose_name = _("Approvals")
    name = "portal.approvals"
    label = "approvals"
