"""Every write to the audit log goes through `record_event`; nothing else creates AuditEvent rows."""

from __future__ import annotations

import datetime as dt
from contextvars import ContextVar
from typing import Any

from django.db import transaction
from django.utils import timezone

from portal.core import context as request_context
from portal.scp.client import CallRecord

from .chain import Verdict, event_hash
from .models import AuditChainHead, AuditEvent, Outcome

MAX_TEXT = 64 * 1024

# Which request and target the SCP calls made right now belong to (bound by the execution service).
scp_call_binding: ContextVar[tuple[int | None, str]] = ContextVar("scp_call_binding", default=(None, ""))


def _now() -> dt.datetime:
    return timezone.now()


@transaction.atomic
def record_event(
    *,
    action: str,
    outcome: str,
    payload: dict[str, Any] | None = None,
    interface_request_id: int | None = None,
    target: str = "",
    actor=None,
) -> AuditEvent:
    """Append one event to the chain. The head row's lock serialises writers across processes and machines."""
    ctx = request_context.with_actor(actor) if actor is not None else request_context.current()
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        head = AuditChainHead.objects.create(pk=1)
        head = AuditChainHead.objects.select_for_update().get(pk=1)
    fields: dict[str, Any] = {
        "seq": head.last_seq + 1,
        "created_at": _now(),
        "action": action[:64],
        "outcome": Outcome(outcome).value,
        "actor_id": ctx.actor_id,
        "actor_name": (ctx.actor_name or "")[:150],
        "source_ip": ctx.source_ip,
        "user_agent": (ctx.user_agent or "")[:256],
        "correlation_id": ctx.correlation_id,
        "interface_request_id": interface_request_id,
        "target": (target or "")[:128],
        "payload": payload or {},
        "prev_hash": head.last_hash,
    }
    # Hash what the database will give back: microsecond time, and the payload as JSON round-trips it.
    fields["created_at"] = fields["created_at"].replace(tzinfo=dt.UTC)
    fields["hash"] = event_hash(fields)
    event = AuditEvent(**fields)
    event.save(force_insert=True)
    AuditChainHead.objects.filter(pk=1).update(last_seq=fields["seq"], last_hash=fields["hash"])
    return event


@transaction.atomic
def record_events_bulk(events: list[dict[str, Any]], *, batch_size: int = 5000) -> int:
    """Append many events at once (imports, tests, benchmarks), chained exactly as record_event chains them."""
    head = AuditChainHead.objects.select_for_update().get(pk=1)
    seq, previous = head.last_seq, head.last_hash
    pending: list[AuditEvent] = []
    for event in events:
        seq += 1
        fields: dict[str, Any] = {
            "seq": seq,
            "created_at": event.get("created_at") or _now(),
            "action": event["action"],
            "outcome": Outcome(event["outcome"]).value,
            "actor_id": event.get("actor_id"),
            "actor_name": event.get("actor_name", ""),
            "source_ip": event.get("source_ip"),
            "user_agent": event.get("user_agent", ""),
            "correlation_id": event.get("correlation_id", ""),
            "interface_request_id": event.get("interface_request_id"),
            "target": event.get("target", ""),
            "payload": event.get("payload", {}),
            "prev_hash": previous,
        }
        fields["hash"] = previous = event_hash(fields)
        pending.append(AuditEvent(**fields))
        if len(pending) >= batch_size:
            AuditEvent.objects.bulk_create(pending)
            pending.clear()
    AuditEvent.objects.bulk_create(pending)
    AuditChainHead.objects.filter(pk=1).update(last_seq=seq, last_hash=previous)
    return seq


def audit_scp_call(*, record: CallRecord, interface_request_id: int | None = None, target: str = "") -> AuditEvent:
    """Record one SCP HTTP attempt (the client's observer). The record never holds the secret or signature."""
    if record.error_class in ("ScpOutcomeUnknown",):
        outcome = Outcome.UNKNOWN
    elif record.error:
        outcome = Outcome.FAILURE
    else:
        outcome = Outcome.SUCCESS
    payload = record.as_dict()
    payload["latency_ms"] = round(record.latency_ms, 1)
    if payload.get("response_body"):
        payload["response_body"] = payload["response_body"][:MAX_TEXT]
    bound = scp_call_binding.get()
    return record_event(
        action="scp.call",
        outcome=outcome,
        payload=payload,
        interface_request_id=interface_request_id or bound[0],
        target=target or bound[1],
    )


def audit_verify_database() -> Verdict:
    """Verify the whole chain against its recorded head, and keep the result for the integrity badge."""
    from .chain import verify
    from .models import VerificationRun
    from .selectors import chain_head, chain_rows

    tip = chain_head()
    verdict = verify(chain_rows(), tip=tip)
    VerificationRun.objects.create(ran_at=_now(), ok=verdict.ok, events=verdict.events, message=verdict.message)
    return verdict
