"""Every write to the audit log goes through `record_event`; nothing else creates AuditEvent rows."""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import os
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextvars import ContextVar
from typing import Any
from urllib.parse import unquote, urlsplit

from django.db import connections, transaction
from django.utils import timezone

from portal.core import context as request_context
from portal.scp.client import CallRecord

from .chain import GENESIS_HASH, Verdict, anchor_verdict, beyond_head_verdict, event_hash, tip_verdict, verify
from .events import AuditAction
from .models import AuditChainHead, AuditEvent, Outcome, VerificationRun
from .selectors import chain_head, chain_rows, hashes_at, seq_bounds

MAX_TEXT = 64 * 1024

# Which request and target the SCP calls made right now belong to (bound by the execution service).
scp_call_binding: ContextVar[tuple[int | None, str]] = ContextVar("scp_call_binding", default=(None, ""))
# HTTP statuses the calls made right now expect as an answer (a detach polls until the interface is gone: 404).
_scp_expected: ContextVar[frozenset[int]] = ContextVar("scp_expected", default=frozenset())


@contextlib.contextmanager
def scp_expecting(*statuses: int) -> Iterator[None]:
    """Within this block, SCP answering one of `statuses` is what the caller waits for: recorded as success, with
    `"expected": true`, not as a failure an auditor must look into."""
    token = _scp_expected.set(frozenset(statuses))
    try:
        yield
    finally:
        _scp_expected.reset(token)


def _now() -> dt.datetime:
    return timezone.now()


def _text_safe(value: Any) -> Any:
    """The value with NUL characters made visible (U+FFFD): PostgreSQL stores no NUL in text or JSON."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_text_safe(k): _text_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_text_safe(v) for v in value]
    return value


def _chained(
    *,
    seq: int,
    prev_hash: str,
    created_at: dt.datetime,
    action: str,
    outcome: str,
    actor_id: int | None = None,
    actor_name: str = "",
    source_ip: str | None = None,
    user_agent: str = "",
    correlation_id: str = "",
    interface_request_id: int | None = None,
    target: str = "",
    payload: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The fields of the next event in the chain, its hash included, as the database will store them."""
    fields: dict[str, Any] = {
        "seq": seq,
        # Hash what the database gives back: UTC with microseconds.
        "created_at": created_at.astimezone(dt.UTC),
        "action": _text_safe(action[:64]),
        "outcome": Outcome(outcome).value,
        "actor_id": actor_id,
        "actor_name": _text_safe((actor_name or "")[:150]),
        "source_ip": source_ip,
        "user_agent": _text_safe((user_agent or "")[:256]),
        "correlation_id": correlation_id or "",
        "interface_request_id": interface_request_id,
        "target": _text_safe((target or "")[:128]),
        "payload": _text_safe(payload or {}),
        "prev_hash": prev_hash,
    }
    fields["hash"] = event_hash(fields)
    return fields


def _locked_head() -> AuditChainHead:
    """The chain's head row, locked until the transaction ends: this lock is what orders all appenders."""
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:  # a database emptied by hand (or a test's flush): the chain restarts at the genesis hash
        AuditChainHead.objects.get_or_create(pk=1)
        head = AuditChainHead.objects.select_for_update().get(pk=1)
    return head


@transaction.atomic
def record_event(
    *,
    action: AuditAction,
    outcome: str | None = None,
    payload: dict[str, Any] | None = None,
    interface_request_id: int | None = None,
    target: str = "",
    actor=None,
) -> AuditEvent:
    """Append one event to the chain. The head row's lock serialises writers across processes and machines.

    `action` is a member of the catalogue (never a free string); `outcome` defaults to the action's own.
    """
    if not isinstance(action, AuditAction):
        raise TypeError(f"record_event takes an AuditAction member, not {action!r}")
    ctx = request_context.with_actor(actor) if actor is not None else request_context.current()
    head = _locked_head()
    fields = _chained(
        seq=head.last_seq + 1,
        prev_hash=head.last_hash,
        created_at=_now(),
        action=action.value,
        outcome=outcome or action.outcome,
        actor_id=ctx.actor_id,
        actor_name=ctx.actor_name,
        source_ip=ctx.source_ip,
        user_agent=ctx.user_agent,
        correlation_id=ctx.correlation_id,
        interface_request_id=interface_request_id,
        target=target,
        payload={**(payload or {}), "api_token": ctx.api_token} if ctx.api_token else payload,
    )
    event = AuditEvent(**fields)
    event.save(force_insert=True)
    AuditChainHead.objects.filter(pk=1).update(last_seq=fields["seq"], last_hash=fields["hash"])
    return event


@transaction.atomic
def record_events_bulk(events: list[dict[str, Any]], *, batch_size: int = 5000) -> int:
    """Append many events at once (imports, tests, benchmarks), chained exactly as record_event chains them."""
    head = _locked_head()
    seq, previous = head.last_seq, head.last_hash
    pending: list[AuditEvent] = []
    for event in events:
        seq += 1
        fields = _chained(seq=seq, prev_hash=previous, **{"created_at": _now(), **event})
        previous = fields["hash"]
        pending.append(AuditEvent(**fields))
        if len(pending) >= batch_size:
            AuditEvent.objects.bulk_create(pending)
            pending.clear()
    AuditEvent.objects.bulk_create(pending)
    AuditChainHead.objects.filter(pk=1).update(last_seq=seq, last_hash=previous)
    return seq


def audit_scp_call(*, record: CallRecord, interface_request_id: int | None = None, target: str = "") -> AuditEvent:
    """Record one SCP HTTP attempt (the client's observer). The record never holds the secret or signature."""
    expected = record.status is not None and record.status in _scp_expected.get()
    if record.error_class in ("ScpOutcomeUnknown",):
        outcome = Outcome.UNKNOWN
    elif record.error and not expected:
        outcome = Outcome.FAILURE
    else:
        outcome = Outcome.SUCCESS
    payload = record.as_dict()
    if expected:
        payload["expected"] = True
    payload["latency_ms"] = round(record.latency_ms, 1)
    if payload.get("response_body"):
        payload["response_body"] = payload["response_body"][:MAX_TEXT]
    caused_by = request_context.current().caused_by
    if caused_by:  # the page or check that made the call: the audit page groups a page's reads under it
        payload["caused_by"] = caused_by
    bound = scp_call_binding.get()
    return record_event(
        action=AuditAction.SCP_CALL,
        outcome=outcome,
        payload=payload,
        interface_request_id=interface_request_id or bound[0],
        target=target or bound[1] or _resource_of(record.url),
    )


_RESOURCE = re.compile(r"/v1/(?:servers|subnets|ports)/([^/?]+)")


def _resource_of(url: str) -> str:
    """The server, subnet or port a call outside any request was about (a page's read), for the Server filter."""
    match = _RESOURCE.search(urlsplit(url).path)
    return unquote(match.group(1))[:128] if match and match.group(1) != "port-ip-availabilities" else ""


PARALLEL_THRESHOLD = 200_000


def _verify_range(bounds: tuple[int, int]) -> Verdict:
    """Verify one seq range on its own database connection (runs in a worker process)."""
    low, high = bounds
    try:
        first_prev = GENESIS_HASH if low == 1 else None
        return verify(chain_rows(low=low, high=high), first_seq=low, first_prev_hash=first_prev)
    finally:
        connections.close_all()


def audit_verify_database(*, workers: int | None = None, anchors: Iterable[tuple[int, str]] = ()) -> Verdict:
    """Verify the whole chain against its recorded head (and any anchors), keeping the result for the badge.

    Hashing is CPU-bound, so a large log is split into seq ranges verified side by side in worker processes;
    the links between the ranges are checked here.
    """

    # The head first: the chain is judged up to where it stood when the check began. The portal keeps
    # appending meanwhile, and those later events are not "inserted" (that is for events beyond the head).
    tip = chain_head()
    verdict = _verify_ranges(seq_bounds(), tip, workers or os.cpu_count() or 1)
    bounds = seq_bounds()  # read before the head: whatever an append has committed, the head already covers
    verdict = beyond_head_verdict(verdict, bounds[1] if bounds else None, chain_head()[0])
    anchors = list(anchors)
    if anchors:
        verdict = anchor_verdict(verdict, anchors, hashes_at([seq for seq, _ in anchors]))
    VerificationRun.objects.create(ran_at=_now(), ok=verdict.ok, events=verdict.events, message=verdict.message)
    return verdict


def _verify_ranges(bounds: tuple[int, int] | None, tip: tuple[int, str], workers: int) -> Verdict:
    last = tip[0]
    if bounds is None or bounds[0] != 1 or min(bounds[1], last) - 1 < PARALLEL_THRESHOLD or workers < 2:
        return verify(chain_rows(high=last), tip=tip)
    low, high = 1, min(bounds[1], last)
    step = (high - low) // workers + 1
    ranges = [(start, min(start + step - 1, high)) for start in range(low, high + 1, step)]
    connections.close_all()  # forked workers must not share this process's connection
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
        parts = list(pool.map(_verify_range, ranges))
    total = 0
    previous_last_hash: str | None = GENESIS_HASH
    for (start, end), part in zip(ranges, parts, strict=True):
        if not part.ok:
            return Verdict(False, total + part.events, part.first_bad_seq, part.problem)
        if part.first_prev_hash != previous_last_hash:
            return Verdict(False, total, start, "inserted: it does not link to the event before it")
        if part.events != end - start + 1:  # a gap at the end of a range
            seq = start + part.events
            return Verdict(False, total + part.events, seq, f"missing: expected seq {seq}")
        total += part.events
        previous_last_hash = part.last_hash
    return tip_verdict(total, previous_last_hash, tip)


def audit_access_denied(*, user, path: str) -> None:
    """Record that someone without the auditor role asked for the audit log."""
    record_event(action=AuditAction.AUDIT_ACCESS, outcome=Outcome.DENIED, payload={"path": path[:200]}, actor=user)


def audit_export_begin(*, user, kind: str, filters: dict[str, str]) -> int:
    """Record an export before it streams; returns the seq it covers up to, so the file is a fixed snapshot."""

    up_to_seq = chain_head()[0]
    record_event(
        action=AuditAction.EXPORTED,
        outcome=Outcome.SUCCESS,
        payload={"format": kind, "filters": filters, "up_to_seq": up_to_seq},
        actor=user,
    )
    return up_to_seq
