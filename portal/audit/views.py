"""Audit review for auditors: filter, page by keyset, read one event, export, verify. Nothing here changes the log."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from portal.core.roles import is_auditor
from portal.teams.selectors import audit_request_scope

from . import selectors, services
from .chain import HASHED_FIELDS, format_time
from .forms import EventFilterForm

CSV_COLUMNS = (*HASHED_FIELDS, "hash")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _require_auditor(request) -> None:
    if not is_auditor(request.user):
        services.audit_access_denied(user=request.user, path=request.path)
        raise Http404("Only auditors can review the audit log.")


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
    context = {"form": form, "badge": selectors.last_verification(), "head": selectors.chain_head()}
    if filters is not None:
        before = form.cleaned_data.get("before") if form.is_bound else None
        page = selectors.event_page(filters=filters, before=before)
        query = {k: v for k, v in request.GET.items() if k != "before" and v}
        context.update(
            page=page,
            next_query=urlencode({**query, "before": page.next_before}) if page.next_before else "",
            export_query=urlencode(query),
        )
    template = (
        "audit/event_list.html#results" if request.htmx and request.GET.get("fragment") else "audit/event_list.html"
    )
    return render(request, template, context)


@login_required
@require_GET
def event_detail(request, seq: int):
    _require_auditor(request)
    event = selectors.event_by_seq(seq=seq, request_scope=audit_request_scope(request.user))
    if event is None:
        raise Http404("No such event.")
    return render(request, "audit/event_detail.html", {"event": event})


def _defuse(value) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = (
        ""
        if value is None
        else (json.dumps(value, ensure_ascii=False, sort_keys=True) if isinstance(value, dict | list) else str(value))
    )
    return "'" + text if text.startswith(FORMULA_START) else text


def _export(request, kind: str):
    _require_auditor(request)
    form, filters = _filters(request)
    if filters is None:
        messages.error(request, "Correct the filters before exporting.")
        return redirect("audit_events")
    up_to_seq = services.audit_export_begin(
        user=request.user, kind=kind, filters={k: v for k, v in request.GET.items() if v}
    )
    records = selectors.export_records(filters=filters, up_to_seq=up_to_seq)

    if kind == "csv":

        def lines():
            buffer = io.StringIO()
            # Every cell quoted: a spreadsheet that splits on ";" or tabs must not find a formula inside one.
            writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)
            writer.writerow(CSV_COLUMNS)
            for row, payload_json in records:
                row["created_at"] = format_time(row["created_at"])
                row["payload"] = payload_json
                writer.writerow([_defuse(row[c]) for c in CSV_COLUMNS])
                if buffer.tell() > 64 * 1024:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
            yield buffer.getvalue()

        content_type, suffix = "text/csv; charset=utf-8", "csv"
    else:

        def lines():
            chunk = []
            for row, payload_json in records:
                row["created_at"] = format_time(row["created_at"])
                # The stored payload JSON goes in as it is; see selectors.export_records.
                chunk.append(json.dumps(row, ensure_ascii=False)[:-1] + ', "payload": ' + payload_json + "}")
                if len(chunk) >= 1000:
                    yield "\n".join(chunk) + "\n"
                    chunk = []
            if chunk:
                yield "\n".join(chunk) + "\n"

        content_type, suffix = "application/x-ndjson", "jsonl"
    response = StreamingHttpResponse(lines(), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="audit-up-to-{up_to_seq}.{suffix}"'
    return response


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
    from .tasks import verify_audit_chain

    verify_audit_chain.enqueue()
    messages.success(request, "Verification started; the badge shows the result when it finishes.")
    return redirect("audit_events")
