from django.contrib import admin

from .models import InterfaceRequest


@admin.register(InterfaceRequest)
class InterfaceRequestAdmin(admin.ModelAdmin):
    """Read-only: requests change only through the portal's services, which audit every change."""

    list_display = ("id", "created_at", "requester", "server_name", "mode", "status")
    list_filter = ("status", "mode")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
