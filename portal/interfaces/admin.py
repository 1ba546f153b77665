from django.contrib import admin

from portal.core.admin import ReadOnlyAdmin

from .models import InterfaceRequest


@admin.register(InterfaceRequest)
class InterfaceRequestAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "requester", "server_name", "mode", "status")
    list_filter = ("status", "mode")
