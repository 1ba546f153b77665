from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from portal.core.admin import ReadOnlyAdmin

from .models import ApiToken
from .tokens import token_revoke


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    """Everyone's personal access tokens (never their secrets, which the portal does not keep); revoke any."""

    list_display = ("prefix", "user", "name", "scope_list", "created_at", "expires_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("prefix", "name", "user__username")
    exclude = ("secret_hash", "window_started_at", "window_calls")
    actions = ["revoke"]

    @admin.display(description=_("scopes"))
    def scope_list(self, obj):
        return ", ".join(obj.scopes)

    def has_revoke_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    @admin.action(description=_("Revoke the selected tokens"), permissions=["revoke"])
    def revoke(self, request, queryset):
        count = sum(token_revoke(token=token, by=request.user) for token in queryset.select_related("user"))
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)
