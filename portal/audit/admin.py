from django.contrib import admin

from portal.core.admin import ReadOnlyAdmin
from portal.teams.selectors import access_for

from .models import AuditEvent, Effect


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: the log is appended by services only, and never changed."""

    list_display = ("seq", "created_at", "action", "outcome", "actor_name", "target")
    list_filter = ("outcome",)

    # The log is for auditors: being staff (or superuser) is not enough to read it here.
    def has_view_permission(self, request, obj=None):

        return access_for(request.user).global_auditor

    def has_module_permission(self, request):
        return self.has_view_permission(request)


@admin.register(Effect)
class EffectAdmin(ReadOnlyAdmin):
    """The outbox: what followed each change, whether it was delivered, and why not yet."""

    list_display = (
        "id",
        "kind",
        "interface_request_id",
        "created_at",
        "due_at",
        "attempts",
        "delivered_at",
        "given_up_at",
    )
    list_filter = ("kind", ("delivered_at", admin.EmptyFieldListFilter), ("given_up_at", admin.EmptyFieldListFilter))
    search_fields = ("kind", "=interface_request_id")
    fields = readonly_fields = (
        *("kind", "interface_request_id", "args", "created_at", "due_at", "attempts", "locked_until"),
        *("last_error", "delivered_at", "given_up_at"),
    )
