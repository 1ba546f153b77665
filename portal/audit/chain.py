"""The canonical form of an audit event and the check of a whole chain, for the database and exported files."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS_HASH = "0" * 64
HASHED_FIELDS = (
    "seq",
    "created_at",
    "action",
    "outcome",
    "actor_id",
    "actor_name",
    "source_ip",
    "user_agent",
    "correlation_id",
    "interface_request_id",
    "target",
    "payload",
    "prev_hash",
)


def format_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(fields: Mapping[str, Any]) -> bytes:
    data = {name: fields[name] for name in HASHED_FIELDS}
    if isinstance(data["created_at"], dt.datetime):
        data["created_at"] = format_time(data["created_at"])
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def event_hash(fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(fields)).hexdigest()


@dataclass
class Verdict:
    ok: bool
    events: int
    first_bad_seq: int | None = None
    problem: str = ""

    @property
    def message(self) -> str:
        if self.ok:
            return f"{self.events} events verified"
        return f"audit chain broken at seq {self.first_bad_seq}: {self.problem}"


def verify(rows: Iterable[Mapping[str, Any]], *, tip: tuple[int, str] | None = None) -> Verdict:
    """Check rows in ascending seq order: gapless from 1, each hash right, each prev_hash the one before.

    `tip` is the (seq, hash) the log says it ends at; without it a deleted tail would go unnoticed.
    Names the first bad sequence number and what was found: changed, missing, inserted or out of order.
    """
    expected_seq = 1
    previous_hash = GENESIS_HASH
    recent: deque[str] = deque(maxlen=4096)  # bounded memory, enough to tell a reorder from an insertion
    count = 0
    for row in rows:
        seq = row["seq"]
        if seq != expected_seq:
            if seq < expected_seq:
                kind = "out of order" if row["hash"] in recent else "inserted"
                return Verdict(False, count, seq, f"{kind}: seq {seq} appears after seq {expected_seq - 1}")
            return Verdict(False, count, expected_seq, f"missing: expected seq {expected_seq}, found seq {seq}")
        if event_hash(row) != row["hash"]:
            return Verdict(False, count, seq, "changed: the event's content does not match its hash")
        if row["prev_hash"] != previous_hash:
            if row["prev_hash"] in recent:
                return Verdict(False, count, seq, "out of order: it links to an earlier event, not its predecessor")
            return Verdict(False, count, seq, "inserted: it does not link to the event before it")
        recent.append(row["hash"])
        previous_hash = row["hash"]
        expected_seq += 1
        count += 1
    if tip is not None and tip != (count, previous_hash if count else GENESIS_HASH):
        last_seq, _ = tip
        if last_seq > count:
            return Verdict(False, count, count + 1, f"missing: the log records {last_seq} events, found {count}")
        return Verdict(False, count, last_seq, "changed: the chain does not end at the recorded head")
    return Verdict(True, count)
