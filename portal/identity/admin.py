from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.utils.translation import gettext_lazy as _

from portal.core.admin import AuditedAdmin, ReadOnlyAdmin

from .models import GroupMapping, Identity, ScimClient, ScimGroup
from .revocation import access_revoke
from .services import access_attempts_unlock
from .sessions import sessions_end


@admin.register(GroupMapping)
class GroupMappingAdmin(AuditedAdmin):
    list_display = ("idp_group", "portal_group", "team", "team_role")
    list_filter = ("team", "team_role")
    search_fields = ("idp_group",)


@admin.register(Identity)
class IdentityAdmin(AuditedAdmin):
    """IdP links: read here, changed only by sign-ins. Removing one (audited) makes the next sign-in of that
    subject create a fresh user, and takes from the old account everything the link's groups had granted it."""

    list_display = ("user", "subject", "issuer", "last_login_at", "last_groups")
    search_fields = ("user__username", "subject")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        user = obj.user
        super().delete_model(request, obj)
        if not user.identities.exists():  # its last link: nothing can sign in as it now, so nothing it held stays
            access_revoke(user=user, reason="IdP link removed", by=request.user, issuer=obj.issuer)


@admin.register(ScimClient)
class ScimClientAdmin(ReadOnlyAdmin):
    """IdPs that provision over SCIM; added, given a new token and revoked with `manage.py scim_client`."""

    list_display = ("name", "issuer", "token_prefix", "created_at", "revoked_at")


@admin.register(ScimGroup)
class ScimGroupAdmin(ReadOnlyAdmin):
    """Groups the IdPs pushed; their names are what the IdP group mappings map."""

    list_display = ("display_name", "client", "updated_at")
    list_filter = ("client",)
    search_fields = ("display_name",)


admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class AuditedUserAdmin(AuditedAdmin, UserAdmin):
    def log_change(self, request, obj, message):
        if request.path.rstrip("/").endswith("/password"):  # the admin's "change password" form
            ended = sessions_end(obj) if obj.pk != request.user.pk else 0  # Django ends them; the list follows
            self._record(request, obj, "password_changed", {}, {}, by="admin", sessions_ended=ended)
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
