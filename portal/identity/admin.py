from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.utils.translation import gettext_lazy as _

from portal.core.admin import AuditedAdmin, ReadOnlyAdmin

from .models import GroupMapping, Identity
from .services import access_attempts_unlock


@admin.register(GroupMapping)
class GroupMappingAdmin(AuditedAdmin):
    list_display = ("idp_group", "portal_group", "team", "team_role")
    list_filter = ("team", "team_role")
    search_fields = ("idp_group",)


@admin.register(Identity)
class IdentityAdmin(ReadOnlyAdmin):
    list_display = ("user", "subject", "issuer", "last_login_at", "last_groups")
    search_fields = ("user__username", "subject")

    def has_delete_permission(self, request, obj=None):
        return True  # unlinking an identity makes the next sign-in create a fresh user


admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class AuditedUserAdmin(AuditedAdmin, UserAdmin):
    def log_change(self, request, obj, message):
        if request.path.rstrip("/").endswith("/password"):  # the admin's "change password" form
            self._record(request, obj, "password_changed", {}, {}, by="admin")
        return super().log_change(request, obj, message)


@admin.register(Group)
class AuditedGroupAdmin(AuditedAdmin, GroupAdmin):
    pass


admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class AuditedAccessAttemptAdmin(AuditedAdmin, AccessAttemptAdmin):
    """Failed sign-ins counted by django-axes; removing an entry lifts its lock-out."""

    actions = ["unlock"]

    @admin.action(description=_("Unlock: forget these failed sign-ins"), permissions=["delete"])
    def unlock(self, request, queryset):
        count = access_attempts_unlock(attempts=queryset)
        self.message_user(request, f"Unlocked {count} sign-in record(s).", messages.SUCCESS)
