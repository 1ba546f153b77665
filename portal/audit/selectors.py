"""Reads of the audit log. Every list is keyset-paginated on seq: no COUNT(*), no OFFSET, at any depth."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max, Min, Q, QuerySet, TextField
from django.db.models.functions import Cast, TruncHour

from portal.audit.events import AuditAction

from .chain import HASHED_FIELDS
from .models import AuditChainHead, AuditEvent, Outcome, VerificationRun

PAGE_SIZE = 50
EXPORT_BATCH = 5000


def action_matching(text: str) -> Q:
    """What the Action filter finds: the action itself, the actions under it (`approval` finds
    `approval.approved`, `scp.attach` finds `scp.attach.intent`), and a category's actions (`auth` finds
    `scim.user_created` too)."""
    text = text.strip().rstrip(".*")
    found = Q(action=text) | Q(action__startswith=text + ".")
    members = [action.value for action in AuditAction if action.category == text]
    return found | Q(action__in=members) if members else found


@dataclass(frozen=True)
class EventFilter:
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    actor: str = ""
    action: str = ""
    outcome: str = ""
    server_id: str = ""
    request_id: int | None = None
    text: str = ""
    correlation_id: str = ""
    # None: every event. Otherwise only events about these requests (a team auditor's scope).
    request_scope: Any = None

    def apply(self, events: QuerySet) -> QuerySet:
        if self.request_scope is not None:
            events = events.filter(interface_request_id__in=self.request_scope)
        if self.since:
            events = events.filter(created_at__gte=self.since)
        if self.until:
            events = events.filter(created_at__lt=self.until)
        if self.actor:
            events = events.filter(actor_name=self.actor)
        if self.action:
            events = events.filter(action_matching(self.action))
        if self.outcome:
            events = events.filter(outcome=self.outcome)
        if self.server_id:
            events = events.filter(target=self.server_id)
        if self.request_id is not None:
            events = events.filter(interface_request_id=self.request_id)
        if self.correlation_id:
            events = events.filter(correlation_id=self.correlation_id)
        if self.text:
            events = events.annotate(payload_text=Cast("payload", TextField())).filter(
                payload_text__icontains=self.text
            )
        return events


@dataclass(frozen=True)
class HourBar:
    start: dt.datetime
    count: int
    height: float  # 0..1 of the busiest hour


def events_per_hour(*, filters: EventFilter, now: dt.datetime, hours: int = 24) -> list[HourBar]:
    """The filtered events of the last `hours` hours, counted per hour (oldest first), for the audit page's chart:
    one grouped query over the created_at index, within the viewer's scope like the list below it."""
    first = now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=hours - 1)
    rows = (
        filters.apply(AuditEvent.objects.filter(created_at__gte=first))
        .annotate(hour=TruncHour("created_at", tzinfo=dt.UTC))
        .values("hour")
        .annotate(n=Count("seq"))
    )
    counts = {row["hour"].astimezone(dt.UTC): row["n"] for row in rows}
    starts = [first + dt.timedelta(hours=h) for h in range(hours)]
    busiest = max(counts.values(), default=0) or 1
    return [HourBar(start, counts.get(start, 0), counts.get(start, 0) / busiest) for start in starts]


@dataclass
class EventPage:
    events: list[AuditEvent]
    next_before: int | None  # pass as `before` for the next (older) page

    @property
    def rows(self) -> list[Row]:
        """The page's events, each run of SCP reads made for one portal request folded into one row: a page
        render or an as-you-type check reads SCP several times, and an auditor looks for what changed."""
        runs: list[tuple[tuple[str, str] | None, list[AuditEvent]]] = []
        for event in self.events:
            key = _read_key(event)
            if key is not None and runs and runs[-1][0] == key:
                runs[-1][1].append(event)
            else:
                runs.append((key, [event]))
        return [Row(group=ReadGroup(key, run)) if key and len(run) > 1 else Row(event=run[0]) for key, run in runs]


@dataclass
class Row:
    event: AuditEvent | None = None
    group: ReadGroup | None = None


@dataclass
class ReadGroup:
    key: tuple[str, str]  # (correlation id, what caused the reads)
    events: list[AuditEvent]

    @property
    def caused_by(self) -> str:
        return self.key[1]

    @property
    def failures(self) -> int:
        return sum(event.outcome != Outcome.SUCCESS for event in self.events)


def _read_key(event: AuditEvent) -> tuple[str, str] | None:
    payload = event.payload if isinstance(event.payload, dict) else {}
    if event.action != AuditAction.SCP_CALL or payload.get("method") != "GET" or not event.correlation_id:
        return None
    return event.correlation_id, str(payload.get("caused_by", ""))


def event_page(*, filters: EventFilter, before: int | None = None, size: int = PAGE_SIZE) -> EventPage:
    """Newest first, `size` events with seq below `before`."""
    events = filters.apply(AuditEvent.objects.all())
    if before is not None:
        events = events.filter(seq__lt=before)
    rows = list(events.order_by("-seq")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return EventPage(rows, rows[-1].seq if more and rows else None)


def _in_seq_batches(events: QuerySet, *, after: int = 0) -> Iterator[Any]:
    """Rows of `events` (a values()/values_list() queryset, seq first) oldest first, in keyset batches."""
    while True:
        batch = list(events.filter(seq__gt=after).order_by("seq")[:EXPORT_BATCH])
        if not batch:
            return
        yield from batch
        last = batch[-1]
        after = last["seq"] if isinstance(last, dict) else last[0]


def export_rows(*, filters: EventFilter, up_to_seq: int | None) -> Iterator[dict[str, Any]]:
    """Every matching event (with seq <= up_to_seq), oldest first, fetched in keyset batches (constant memory)."""
    base = AuditEvent.objects.all() if up_to_seq is None else AuditEvent.objects.filter(seq__lte=up_to_seq)
    return _in_seq_batches(filters.apply(base).values(*HASHED_FIELDS, "hash"))


def chain_rows(*, low: int | None = None, high: int | None = None) -> Iterator[dict[str, Any]]:
    """Every stored event (with low <= seq <= high), including any written behind the chain head's back."""
    base = AuditEvent.objects.all() if high is None else AuditEvent.objects.filter(seq__lte=high)
    after = (low - 1) if low is not None else -(2**62)
    return _in_seq_batches(base.values(*HASHED_FIELDS, "hash"), after=after)


def seq_bounds() -> tuple[int, int] | None:
    """The lowest and highest stored seq (index lookups), or None when the log is empty."""
    bounds = AuditEvent.objects.aggregate(low=Min("seq"), high=Max("seq"))
    return None if bounds["low"] is None else (bounds["low"], bounds["high"])


EXPORT_COLUMNS = tuple(f for f in (*HASHED_FIELDS, "hash") if f != "payload")


def export_records(*, filters: EventFilter, up_to_seq: int) -> Iterator[tuple[dict[str, Any], str]]:
    """(fields without the payload, the payload as stored JSON text), oldest first, in keyset batches.

    The payload is passed through as text: an export carries it, and audit_verify re-canonicalises it, so
    decoding and re-encoding a million payloads here would only cost time.
    """
    base = filters.apply(AuditEvent.objects.filter(seq__lte=up_to_seq)).annotate(
        payload_json=Cast("payload", TextField())
    )
    for values in _in_seq_batches(base.values_list(*EXPORT_COLUMNS, "payload_json")):
        yield dict(zip(EXPORT_COLUMNS, values[:-1], strict=True)), values[-1]


def chain_head() -> tuple[int, str]:
    head = AuditChainHead.objects.filter(pk=1).first()
    return (head.last_seq, head.last_hash) if head else (0, "0" * 64)


def hashes_at(seqs: list[int]) -> dict[int, str]:
    return dict(AuditEvent.objects.filter(seq__in=seqs).values_list("seq", "hash"))


def last_verification() -> VerificationRun | None:
    return VerificationRun.objects.order_by("-ran_at").first()


def verification_pending():
    """When the newest verification asked for started, if it has not finished yet (else None)."""
    asked = (
        AuditEvent.objects.filter(action=AuditAction.VERIFY_STARTED)
        .order_by("-seq")
        .values_list("created_at", flat=True)
    )
    started = asked.first()
    if started is None:
        return None
    last = last_verification()
    return started if last is None or last.ran_at < started else None


def timeline_for_request(*, request_id: int):
    """What happened to the request. Refusals (someone's attempt to open it, an approver's refused click) stay in
    the audit log, off this page: they did not happen to the request."""
    return (
        AuditEvent.objects.filter(interface_request_id=request_id)
        .exclude(action=AuditAction.REQUEST_ACCESS)
        .exclude(outcome=Outcome.DENIED)
        .order_by("seq")
    )


def event_by_seq(*, seq: int, request_scope=None) -> AuditEvent | None:
    events = AuditEvent.objects.filter(seq=seq)
    if request_scope is not None:
        events = events.filter(interface_request_id__in=request_scope)
    return events.first()
