"""Admin building blocks: read-only records, and every admin change written to the audit log."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import NestedObjects, unquote
from django.db import router
from django.forms.models import model_to_dict
from django.utils.translation import gettext as _

from portal.audit.events import admin_action
from portal.audit.models import Outcome
from portal.audit.services import record_event

SECRET_FIELDS = frozenset({"password", "secret_hash"})
# Rows a delete takes along that say nothing to an auditor: Django's own bookkeeping (the join rows of
# many-to-many sets are listed as "unlinked" instead).
QUIET_CASCADES = frozenset({"admin.LogEntry"})


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records that change only through the portal's services, which audit every change."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def snapshot(obj) -> dict:
    """The object's fields and many-to-many sets as plain values, secrets left out (a password hash included);
    a related object by its name (what an auditor reads), never by its id alone."""
    if obj is None or obj.pk is None:
        return {}
    data = model_to_dict(obj)
    relations = {f.name for f in obj._meta.fields if f.is_relation and f.many_to_one}
    for name, value in list(data.items()):
        if name in SECRET_FIELDS:
            data.pop(name)
        elif name in relations:
            related = getattr(obj, name, None)
            data[name] = str(related) if related is not None else None
        elif isinstance(value, list):
            data[name] = sorted(str(v) for v in value)
        elif value is not None and not isinstance(value, int | float | bool | str):
            data[name] = str(value)
    return data


def _row(row) -> str:
    """An inline row as the audit log shows it: with its place when its model has an order (policy steps)."""
    return f"{row.order}. {row}" if hasattr(row, "order") else str(row)


def cascade_of(obj) -> dict:
    """What deleting `obj` takes with it: the objects deleted with it, the rows that lose it from a set (a
    group from an approval step, a team's approver groups, a user's groups), and the sets it leaves empty."""
    collector = NestedObjects(using=router.db_for_write(type(obj)))
    collector.collect([obj])
    deleted = sorted(
        f"{item._meta.verbose_name}: {item}"
        for model, items in collector.data.items()
        for item in items
        if item != obj and not model._meta.auto_created and model._meta.label not in QUIET_CASCADES
    )
    unlinked, emptied = [], []
    for relation in obj._meta.get_fields(include_hidden=True):
        if not (relation.many_to_many and relation.auto_created):
            continue  # only the sets of other models that hold `obj`
        field = relation.field.name
        for row in relation.related_model._default_manager.filter(**{field: obj}):
            label = f"{row._meta.verbose_name}: {row}"
            unlinked.append(f"{label} ({relation.field.verbose_name})")
            if getattr(row, field).count() == 1:
                emptied.append(label)
    return {"deleted": deleted[:200], "unlinked": sorted(unlinked)[:200], "emptied": sorted(emptied)[:200]}


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
            listed = [_row(row) for row in rows]
            state[inline.model._meta.model_name] = listed if hasattr(inline.model, "order") else sorted(listed)
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
        before, cascade = self._state(obj), cascade_of(obj)
        super().delete_model(request, obj)
        obj.pk = obj.pk or before.get("id")
        self._record(request, obj, "deleted", before, {}, **{k: v for k, v in cascade.items() if v})

    def delete_view(self, request, object_id, extra_context=None):
        """The confirmation page warns when the delete would leave a set empty (an approval step with no group
        can be decided by nobody)."""
        obj = self.get_object(request, unquote(object_id)) if request.method == "GET" else None
        emptied = cascade_of(obj)["emptied"] if obj is not None else []
        if emptied:
            messages.warning(
                request,
                _(
                    "Deleting this leaves empty: %(rows)s. A team without an approver group, or an approval step "
                    "without a group, has requests nobody can decide."
                )
                % {"rows": "; ".join(emptied)},
            )
        return super().delete_view(request, object_id, extra_context)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)
