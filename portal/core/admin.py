"""Admin building blocks: read-only records, and every admin change written to the audit log."""

from __future__ import annotations

from django.contrib import admin
from django.forms.models import model_to_dict

from portal.audit.events import admin_action
from portal.audit.models import Outcome
from portal.audit.services import record_event

SECRET_FIELDS = frozenset({"password", "secret_hash"})


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records that change only through the portal's services, which audit every change."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def snapshot(obj) -> dict:
    """The object's fields and many-to-many sets as plain values, secrets left out (a password hash included)."""
    if obj is None or obj.pk is None:
        return {}
    data = model_to_dict(obj)
    for name, value in list(data.items()):
        if name in SECRET_FIELDS:
            data.pop(name)
        elif isinstance(value, list):
            data[name] = sorted(str(v) for v in value)
        elif value is not None and not isinstance(value, int | float | bool | str):
            data[name] = str(value)
    return data


def _diff(before: dict, after: dict) -> tuple[dict, dict]:
    keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


class AuditedAdmin(admin.ModelAdmin):
    """Every add, change and delete made in the admin is an audit event: who, what, before and after.

    Policies, teams, group mappings, groups and users decide who may do what; an auditor must see each change
    to them in the same chained log as the requests they govern.
    """

    def _record(self, request, obj, verb: str, before: dict, after: dict, **extra) -> None:
        changed_before, changed_after = _diff(before, after) if verb == "changed" else (before, after)
        if verb == "changed" and not changed_before and not extra:
            return
        record_event(
            action=admin_action(obj._meta.model_name, verb),
            outcome=Outcome.SUCCESS,
            payload={
                "model": obj._meta.label,
                "object_id": str(obj.pk),
                "object": str(obj)[:200],
                "before": changed_before,
                "after": changed_after,
                **extra,
            },
            target=f"{obj._meta.model_name}:{obj.pk}"[:128],
            actor=request.user,
        )

    def _state(self, obj) -> dict:
        """The object with its many-to-many sets and its inline rows (policy steps, ownership rules)."""
        stored = type(obj).objects.filter(pk=obj.pk).first() if obj.pk is not None else None
        state = snapshot(stored)
        for inline in self.inlines:
            fk = next(f.name for f in inline.model._meta.fields if f.related_model is type(obj))
            rows = inline.model.objects.filter(**{fk: obj}) if stored else []
            state[inline.model._meta.model_name] = sorted(str(row) for row in rows)
        return state

    def save_model(self, request, obj, form, change):
        request._audit_before = self._state(obj) if change else {}
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)  # many-to-many sets and inlines are saved here
        obj = form.instance
        self._record(
            request, obj, "changed" if change else "added", getattr(request, "_audit_before", {}), self._state(obj)
        )

    def delete_model(self, request, obj):
        before = self._state(obj)
        super().delete_model(request, obj)
        obj.pk = obj.pk or before.get("id")
        self._record(request, obj, "deleted", before, {})

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)
