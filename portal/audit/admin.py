from django.contrib import admin
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

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


class EffectStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _query) in EFFECT_STATES.items()]

    def queryset(self, request, queryset):
        state = EFFECT_STATES.get(self.value() or "")
        return queryset.filter(state[1]) if state else queryset


EFFECT_STATES = {
    "pending": (_("pending"), Q(delivered_at=None, given_up_at=None, last_error="")),
    "failing": (_("failing, tried again later"), Q(delivered_at=None, given_up_at=None) & ~Q(last_error="")),
    "given_up": (_("given up"), Q(given_up_at__isnull=False)),
    "delivered": (_("delivered"), Q(delivered_at__isnull=False)),
}


@admin.register(Effect)
class EffectAdmin(ReadOnlyAdmin):
    """The outbox: what followed each change, whether it was delivered, and why not yet."""

    list_display = ("id", "kind", "interface_request_id", "state", "attempts", "created_at")
    list_filter = (EffectStateFilter, "kind")
    search_fields = ("kind", "=interface_request_id")
    fields = readonly_fields = (
        *("kind", "interface_request_id", "args", "created_at", "due_at", "attempts", "locked_until"),
        *("last_error", "delivered_at", "given_up_at"),
    )

    @admin.display(description=_("state"))
    def state(self, effect: Effect) -> str:
        if effect.delivered_at:
            return str(EFFECT_STATES["delivered"][0])
        if effect.given_up_at:
            return str(EFFECT_STATES["given_up"][0])
        return str(EFFECT_STATES["failing" if effect.last_error else "pending"][0])
