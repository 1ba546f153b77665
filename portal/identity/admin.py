from django.contrib import admin

from portal.core.admin import ReadOnlyAdmin

from .models import GroupMapping, Identity


@admin.register(GroupMapping)
class GroupMappingAdmin(admin.ModelAdmin):
    list_display = ("idp_group", "portal_group", "team", "team_role")
    list_filter = ("team", "team_role")
    search_fields = ("idp_group",)


@admin.register(Identity)
class IdentityAdmin(ReadOnlyAdmin):
    list_display = ("user", "subject", "issuer", "last_login_at", "last_groups")
    search_fields = ("user__username", "subject")

    def has_delete_permission(self, request, obj=None):
        return True  # unlinking an identity makes the next sign-in create a fresh user
