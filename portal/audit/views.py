"""Audit review for auditors: filter, page by keyset, read one event, export, verify. Nothing here changes the log."""

from __future__ import annotations

import dataclasses
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from portal.core.roles import is_auditor
from portal.teams.selectors import audit_request_scope

from . import checkpoints, selectors, services, verification
from .export import export_response
from .forms import KNOWN_ACTIONS, EventFilterForm


def _require_auditor(request) -> None:
    if not is_auditor(request.user):
        services.audit_access_denied(user=request.user, path=request.path)
        raise Http404(_("Only auditors can review the audit log."))


def _filters(request) -> tuple[EventFilterForm, selectors.EventFilter | None]:
    """The filters asked for, always within the caller's scope (a team auditor sees their teams' requests)."""
    form = EventFilterForm(request.GET or None)
    scope = audit_request_scope(request.user)
    if not request.GET:
        return form, selectors.EventFilter(request_scope=scope)
    return form, (dataclasses.replace(form.event_filter(), request_scope=scope) if form.is_valid() else None)


@login_required
@require_GET
def event_list(request):
    _require_auditor(request)
    form, filters = _filters(request)
    context = {
        "form": form,
        "badge": selectors.last_verification(),
        "head": selectors.chain_head(),
        "checkpoints": checkpoints.published(),
        "verifying": selectors.verification_pending(),
        "known_actions": KNOWN_ACTIONS,
    }
    if request.htmx and request.GET.get("fragment") == "integrity":
        return render(request, "audit/event_list.html#integrity", context)
    if filters is not None:
        before = form.cleaned_data.get("before") if form.is_bound else None
        page = selectors.event_page(filters=filters, before=before)
        context["hours"] = selectors.events_per_hour(filters=filters, now=timezone.now()) if before is None else None
        query = {k: v for k, v in request.GET.items() if k not in ("before", "fragment") and v}
        context.update(
            page=page,
            next_query=urlencode({**query, "before": page.next_before}) if page.next_before else "",
            export_query=urlencode(query),
        )
    # The filter form and the pager swap #results and push their URL (the filters, nothing else), so Back, a
    # reload and a shared link all show the same events; a history restore gets the whole page.
    swap = request.htmx and (request.htmx.target == "results" or request.GET.get("fragment"))
    partial = swap and not request.htmx.history_restore_request
    # A swap also replaces the Verify button's form out of band, so that it comes back to these filters.
    context["oob"] = bool(partial)
    return render(request, "audit/event_list.html#results" if partial else "audit/event_list.html", context)


@login_required
@require_GET
def event_detail(request, seq: int):
    _require_auditor(request)
    event = selectors.event_by_seq(seq=seq, request_scope=audit_request_scope(request.user))
    if event is None:
        raise Http404(_("No such event."))
    return render(request, "audit/event_detail.html", {"event": event})


def _export(request, kind: str):
    _require_auditor(request)
    form, filters = _filters(request)
    if filters is None:
        messages.error(request, _("Correct the filters before exporting."))
        return redirect("audit_events")
    up_to_seq = services.audit_export_begin(
        user=request.user, kind=kind, filters={k: v for k, v in request.GET.items() if v and k != "fragment"}
    )
    records = selectors.export_records(filters=filters, up_to_seq=up_to_seq)
    return export_response(kind, records, up_to_seq=up_to_seq)


@login_required
@require_GET
def export_csv(request):
    return _export(request, "csv")


@login_required
@require_GET
def export_jsonl(request):
    return _export(request, "jsonl")


@login_required
@require_POST
def verify_now(request):
    _require_auditor(request)
    verification.audit_verification_start(user=request.user)
    messages.success(request, _("Verification started; the badge shows the result when it finishes."))
    query = request.GET.urlencode()  # back to the same filters
    return redirect(reverse("audit_events") + (f"?{query}" if query else ""))
