"""Streaming the audit log to a SIEM: every event, in order, as OCSF JSON (audit.ocsf), at least once.

Each configured stream keeps a cursor (AuditStreamCursor): the sequence number up to which its receiver has taken
every event. A delivery locks the cursor's row, reads the events after it in batches, hands a batch to the
receiver, and moves the cursor past it in the same transaction, so a delivery that dies mid-way sends that batch
again (never skips one), and a restart continues where the cursor stands (never sends an accepted batch twice).
Receivers de-duplicate on `metadata.uid` (the event's chain hash) should a batch come twice. A receiver that is
down leaves the cursor where it is: the next delivery catches up. A stream that starts failing, and one that
recovers, is an audit event (which is streamed too, so the SIEM learns of the gap); lag and failures are in
/metrics and /readyz.

Receivers: syslog over TLS (RFC 5425: RFC 5424 messages, octet-counted, one TLS connection a batch) and HTTPS
(one POST of JSON lines a batch; any 2xx accepts it, e.g. a Splunk HEC raw endpoint or Vector's http_server).
The scheduler delivers every tick (`audit.tasks.stream_audit_events`); `manage.py audit_stream` delivers now.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .chain import HASHED_FIELDS, format_time
from .events import AuditAction
from .models import AuditEvent, AuditStreamCursor, Outcome
from .ocsf import ocsf_event
from .selectors import chain_head
from .services import record_event

logger = logging.getLogger(__name__)
SYSLOG_FACILITY = 13  # log audit (RFC 5424 §6.2.1)
TIMEOUT = 10.0
MAX_BATCHES = 100  # a delivery's batches, so that one call ends; the next continues


class StreamFailed(Exception):
    """The receiver did not take a batch."""


Sender = Callable[[list[dict]], None]


@dataclass(frozen=True)
class Stream:
    name: str
    where: str
    send: Sender


def _syslog_frame(event: dict, host: str) -> bytes:
    severity = 6 if event["status_id"] == 1 else 4  # informational, warning
    created = event["unmapped"]["created_at"].replace("+00:00", "Z")
    msgid = "".join(c for c in event["message"] if 33 <= ord(c) <= 126)[:32] or "-"
    body = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    line = f"<{SYSLOG_FACILITY * 8 + severity}>1 {created} {host} scp-portal - {msgid} - {body}".encode()
    return f"{len(line)} ".encode() + line


def syslog_sender(address: str, ca_file) -> Sender:
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    me = (socket.gethostname() or "-")[:255]

    def send(events: list[dict]) -> None:
        data = b"".join(_syslog_frame(event, me) for event in events)
        try:
            with socket.create_connection((host, int(port)), timeout=TIMEOUT) as raw:
                with context.wrap_socket(raw, server_hostname=host) as tls:
                    tls.sendall(data)
                    try:  # our close_notify comes after every byte: the receiver closing on it has read them all
                        tls.unwrap()
                    except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
                        pass  # it closed the connection on our close_notify without sending its own (rsyslog does)
        except (OSError, ssl.SSLError) as exc:
            raise StreamFailed(f"syslog {address}: {type(exc).__name__}: {exc}"[:300]) from None

    return send


def http_sender(url: str, authorization: str, ca_file) -> Sender:
    headers = {"Content-Type": "application/x-ndjson"}
    if authorization:
        headers["Authorization"] = authorization
    verify: bool | str = str(ca_file) if ca_file else True

    def send(events: list[dict]) -> None:
        body = "".join(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n" for event in events)
        try:
            answer = requests.post(url, data=body.encode(), headers=headers, timeout=TIMEOUT, verify=verify)
        except requests.RequestException as exc:
            raise StreamFailed(f"{url}: {type(exc).__name__}") from None
        if not 200 <= answer.status_code < 300:
            raise StreamFailed(f"{url} answered {answer.status_code}")

    return send


def configured() -> list[Stream]:
    config = settings.CONFIG
    streams = []
    if config.audit_stream_syslog:
        where = config.audit_stream_syslog
        streams.append(Stream("syslog", where, syslog_sender(where, config.audit_stream_syslog_ca)))
    if config.audit_stream_http_url:
        url = str(config.audit_stream_http_url)
        secret = config.audit_stream_http_authorization
        sender = http_sender(url, secret.get_secret_value() if secret else "", config.audit_stream_http_ca)
        streams.append(Stream("http", url, sender))
    return streams


def _batch(after: int, size: int) -> list[dict]:
    rows = AuditEvent.objects.filter(seq__gt=after).order_by("seq").values(*HASHED_FIELDS, "hash")[:size]
    origin = settings.CONFIG.audit_log_origin
    events = []
    for row in rows:
        row["created_at"] = format_time(row["created_at"])
        events.append(ocsf_event(row, log_name=origin))
    return events


def _fail(stream: Stream, cursor: AuditStreamCursor, error: str) -> None:
    first = cursor.failing_since is None
    AuditStreamCursor.objects.filter(pk=cursor.pk).update(
        failing_since=cursor.failing_since or timezone.now(), last_error=error[:300]
    )
    logger.warning("audit stream %s failed at event %d: %s", stream.name, cursor.seq + 1, error)
    if first:
        record_event(
            action=AuditAction.STREAM_FAILED,
            outcome=Outcome.FAILURE,
            payload={"stream": stream.name, "receiver": stream.where, "at_seq": cursor.seq + 1, "error": error[:300]},
            target=f"stream:{stream.name}",
        )


def stream_deliver(stream: Stream) -> int:
    """Send what `stream`'s receiver has not yet taken; returns how many events it took."""
    AuditStreamCursor.objects.get_or_create(name=stream.name)
    taken = 0
    for _ in range(MAX_BATCHES):
        recovered = False
        with transaction.atomic():
            cursor = AuditStreamCursor.objects.select_for_update().get(name=stream.name)
            events = _batch(cursor.seq, settings.CONFIG.audit_stream_batch)
            if not events:
                break
            try:
                stream.send(events)
            except StreamFailed as exc:
                failure: AuditStreamCursor | None = cursor
                error = str(exc)
            else:
                failure = None
                recovered = cursor.failing_since is not None
                cursor.seq, cursor.sent_at = events[-1]["metadata"]["sequence"], timezone.now()
                cursor.failing_since, cursor.last_error = None, ""
                cursor.save()
                taken += len(events)
        if failure is not None:
            _fail(stream, failure, error)
            break
        if recovered:
            record_event(
                action=AuditAction.STREAM_RECOVERED,
                outcome=Outcome.SUCCESS,
                payload={"stream": stream.name, "receiver": stream.where, "through_seq": cursor.seq},
                target=f"stream:{stream.name}",
            )
    return taken


def streams_deliver() -> dict[str, int]:
    """Every configured stream, caught up as far as its receiver takes events."""
    return {stream.name: stream_deliver(stream) for stream in configured()}


def stream_states() -> list[dict]:
    """Each configured stream: where its cursor stands, how far behind the log's head, and whether it is failing."""
    head = chain_head()[0]
    cursors = {c.name: c for c in AuditStreamCursor.objects.all()}
    states = []
    for stream in configured():
        cursor = cursors.get(stream.name)
        seq = cursor.seq if cursor else 0
        states.append(
            {
                "name": stream.name,
                "receiver": stream.where,
                "seq": seq,
                "lag": max(head - seq, 0),
                "failing_since": cursor.failing_since if cursor else None,
                "last_error": cursor.last_error if cursor else "",
            }
        )
    return states
