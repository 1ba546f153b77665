"""The audit log for auditors: events with the review page's filters, streamed exports, verification, the anchor."""

from __future__ import annotations

import datetime as dt

from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field, field_validator

from portal.audit import selectors, services
from portal.audit.export import export_response
from portal.audit.models import Outcome
from portal.audit.verification import audit_verification_start
from portal.teams.selectors import audit_request_scope

from . import presenters
from .auth import require_scope
from .models import Scope
from .schemas import AnchorOut, AuditPageOut, VerificationStateOut, VerifyStartedOut

router = Router(tags=["audit"])
MAX_SEQ = 2**62


class EventQuery(Schema):
    since: dt.datetime | None = Field(None, description="From this time (inclusive).")
    until: dt.datetime | None = Field(None, description="Before this time.")
    actor: str = Field("", max_length=150)
    action: str = Field(
        "",
        max_length=64,
        description="An action (interface_request.submitted), the actions under a prefix (approval finds "
        "approval.approved) or a category's (auth, token, scp, request, approval, audit, drift, admin, system).",
    )
    outcome: Outcome | None = None
    server: str = Field("", max_length=128, description="The server id the event is about.")
    request: int | None = Field(None, ge=1, le=MAX_SEQ, description="The request id the event is about.")
    q: str = Field("", max_length=200, description="Text in the payload.")
    correlation: str = Field("", max_length=64, description="Every event of one HTTP request or task.")

    @field_validator("since", "until", mode="before")
    @classmethod
    def _iso_8601(cls, value):
        """An ISO 8601 date-time, as documented; not the Unix timestamps pydantic would also take."""
        if value is None or isinstance(value, dt.datetime):
            return value
        try:
            parsed = dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise ValueError("Give a date and time as in 2026-11-29T09:00:00Z.") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _filters(request, query: EventQuery) -> selectors.EventFilter:
    if query.since and query.until and query.since >= query.until:
        raise HttpError(422, "until: Choose an end after the start.")
    return selectors.EventFilter(
        since=query.since,
        until=query.until,
        actor=query.actor.strip(),
        action=query.action.strip(),
        outcome=query.outcome or "",
        server_id=query.server.strip(),
        request_id=query.request,
        text=query.q.strip().replace("\x00", ""),
        request_scope=audit_request_scope(request.user),
        correlation_id=query.correlation.strip(),
    )


@router.get("/audit/events", response=AuditPageOut, summary="Audit events")
def events(
    request,
    filters: Query[EventQuery],
    before: int | None = Query(None, ge=1, le=MAX_SEQ, description="The `next_before` of the page before."),
):
    """Newest first, 50 a page, within your audit scope. Scope: `audit`."""
    require_scope(request, Scope.AUDIT)
    page = selectors.event_page(filters=_filters(request, filters), before=before)
    return {"items": [presenters.event_out(e) for e in page.events], "next_before": page.next_before}


def _export(request, kind: str, query: EventQuery):
    require_scope(request, Scope.AUDIT)
    filters = _filters(request, query)
    asked = {k: str(v) for k, v in query.model_dump(exclude_defaults=True).items()}
    up_to_seq = services.audit_export_begin(user=request.user, kind=kind, filters=asked)
    return export_response(kind, selectors.export_records(filters=filters, up_to_seq=up_to_seq), up_to_seq=up_to_seq)


def _file(media_type: str, what: str) -> dict:
    return {"responses": {200: {"description": what, "content": {media_type: {"schema": {"type": "string"}}}}}}


@router.get("/audit/export.csv", summary="Export as CSV", openapi_extra=_file("text/csv", "Every matching event."))
def export_csv(request, filters: Query[EventQuery]):
    """Every matching event, oldest first, streamed; up to the head when the export began. Scope: `audit`."""
    return _export(request, "csv", filters)


@router.get(
    "/audit/export.jsonl",
    summary="Export as JSON Lines",
    openapi_extra=_file("application/x-ndjson", "Every matching event, one JSON object a line."),
)
def export_jsonl(request, filters: Query[EventQuery]):
    """As the CSV export, one JSON object a line: `manage.py audit_verify --file` checks it. Scope: `audit`."""
    return _export(request, "jsonl", filters)


@router.post("/audit/verify", response={202: VerifyStartedOut}, summary="Verify the chain")
def verify(request):
    """Queue a verification of the whole hash chain; read the result from /audit/verification. Scope: `audit`."""
    require_scope(request, Scope.AUDIT)
    audit_verification_start(user=request.user)
    return Status(
        202, {"status": "started", "detail": "Verification started; GET /api/v1/audit/verification for its result."}
    )


@router.get("/audit/verification", response=VerificationStateOut, summary="The last verification")
def verification(request):
    """The last verification's result (null before the first). Scope: `audit`."""
    require_scope(request, Scope.AUDIT)
    last = selectors.last_verification()
    if last is None:
        return {"last": None}
    return {"last": {"ran_at": last.ran_at, "ok": last.ok, "events": last.events, "message": last.message}}


@router.get("/audit/anchor", response=AnchorOut, summary="The chain's head")
def anchor(request):
    """The last event's sequence number and hash. Written down elsewhere, it lets `audit_verify --anchor` find
    even a rewrite of the whole chain. Scope: `audit`."""
    require_scope(request, Scope.AUDIT)
    seq, head_hash = selectors.chain_head()
    return {"seq": seq, "hash": head_hash}
