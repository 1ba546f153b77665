from django.contrib import admin

from portal.core.admin import ReadOnlyAdmin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: the log is appended by services only, and never changed."""

    list_display = ("seq", "created_at", "action", "outcome", "actor_name", "target")
    list_filter = ("outcome",)
