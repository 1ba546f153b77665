from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from portal.core.admin import AuditedAdmin

from .models import ServerOwnership, Team


class ServerOwnershipInline(admin.TabularInline):
    model = ServerOwnership
    extra = 1


@admin.register(Team)
class TeamAdmin(AuditedAdmin):
    list_display = ("name", "rules", "member_count")
    search_fields = ("name", "members__username")
    filter_horizontal = ("members", "approver_groups", "auditors")
    inlines = [ServerOwnershipInline]

    @admin.display(description=_("Owns"))
    def rules(self, team):
        return "; ".join(f"{o.get_kind_display()} {o.value}" for o in team.ownerships.all()) or "nothing yet"

    @admin.display(description=_("Members"))
    def member_count(self, team):
        return team.members.count()
