"""The canonical form of an audit event and the check of a whole chain, for the database and exported files."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import islice
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
    first_prev_hash: str | None = None  # for stitching ranges verified apart
    last_hash: str | None = None
    last_seq: int | None = None  # with last_hash: where a good chain ends, to anchor it

    @property
    def message(self) -> str:
        if self.ok:
            return f"{self.events} events verified"
        return f"audit chain broken at seq {self.first_bad_seq}: {self.problem}"


MOVE_WINDOW = 64


def _classify_mismatch(row: Mapping[str, Any], count: int) -> Verdict:
    """A row whose hash fails: moved (its hash fits another seq) or changed (it fits none)."""
    seq = row["seq"]
    for delta in range(1, MOVE_WINDOW + 1):
        for original in (seq - delta, seq + delta):
            if original >= 1 and event_hash({**row, "seq": original}) == row["hash"]:
                if original == seq - 1:
                    return Verdict(
                        False,
                        count,
                        seq - 1,
                        f"inserted: seq {seq - 1} was inserted; the event now at seq {seq} was seq {original}",
                    )
                if original == seq + 1:
                    return Verdict(
                        False,
                        count,
                        seq,
                        f"missing: the event at seq {seq} was deleted and the events after it renumbered",
                    )
                return Verdict(False, count, seq, f"out of order: the event at seq {seq} belongs at seq {original}")
    return Verdict(False, count, seq, "changed: the event's content does not match its hash")


def verify(
    rows: Iterable[Mapping[str, Any]],
    *,
    tip: tuple[int, str] | None = None,
    partial: bool = False,
    first_seq: int = 1,
    first_prev_hash: str | None = GENESIS_HASH,
) -> Verdict:
    """Check rows in ascending seq order: gapless from 1, each hash right, each prev_hash the one before.

    `tip` is the (seq, hash) the log says it ends at; without it a deleted tail would go unnoticed.
    `partial` accepts gaps (a filtered export): every hash is checked, and the link between consecutive events.
    Names the first bad sequence number and what was found: changed, missing, inserted or out of order.
    """
    expected_seq = first_seq
    previous_hash = first_prev_hash
    previous_seq = first_seq - 1
    seen_first_prev: str | None = None
    recent: deque[str] = deque(maxlen=4096)  # bounded memory, enough to tell a reorder from an insertion
    count = 0
    rows = iter(rows)
    for row in rows:
        if any(name not in row for name in (*HASHED_FIELDS, "hash")):
            return Verdict(False, count, row.get("seq"), "malformed: the event lacks fields")
        seq = row["seq"]
        placed = _placed(
            row, rows, count=count, partial=partial, previous_seq=previous_seq, expected=expected_seq, recent=recent
        )
        if isinstance(placed, Verdict):
            return placed
        linked = placed
        if event_hash(row) != row["hash"]:
            return _classify_mismatch(row, count)
        if count == 0:
            seen_first_prev = row["prev_hash"]
            if previous_hash is None:  # a range verified apart: its first link is checked when stitching
                previous_hash = row["prev_hash"]
        if linked and row["prev_hash"] != previous_hash:
            if row["prev_hash"] in recent:
                return Verdict(False, count, seq, "out of order: it links to an earlier event, not its predecessor")
            return Verdict(False, count, seq, "inserted: it does not link to the event before it")
        recent.append(row["hash"])
        previous_hash = row["hash"]
        previous_seq = seq
        expected_seq += 1
        count += 1
    if tip is not None:
        verdict = tip_verdict(count, previous_hash if count else GENESIS_HASH, tip)
        if not verdict.ok:
            return verdict
    if not count:
        return Verdict(True, 0, first_prev_hash=seen_first_prev)
    return Verdict(True, count, first_prev_hash=seen_first_prev, last_hash=previous_hash, last_seq=previous_seq)


def _placed(row, rows, *, count: int, partial: bool, previous_seq: int, expected: int, recent) -> Verdict | bool:
    """Whether the row stands where its seq says (then: whether it must link to the row before), or the verdict
    naming what is wrong: inserted, out of order, or missing."""
    seq = row["seq"]
    if partial:
        if not isinstance(seq, int) or seq <= previous_seq:
            kind = "out of order" if row["hash"] in recent else "inserted"
            return Verdict(False, count, seq, f"{kind}: seq {seq} appears after seq {previous_seq}")
        return seq == previous_seq + 1 and previous_seq > 0 or seq == 1
    if seq == expected:
        return True
    if isinstance(seq, int) and seq < expected:
        kind = "out of order" if row["hash"] in recent else "inserted"
        return Verdict(False, count, seq, f"{kind}: seq {seq} appears after seq {expected - 1}")
    if any(later.get("seq") == expected for later in islice(rows, MOVE_WINDOW)):
        # A file, unlike the table, can hold its lines in any order: the event is there, further on.
        return Verdict(False, count, expected, f"out of order: seq {expected} comes after seq {seq}")
    return Verdict(False, count, expected, f"missing: expected seq {expected}, found seq {seq}")


ANCHOR_RE = re.compile(r"^(\d{1,18}):([0-9a-f]{64})$")


def parse_anchor(text: str) -> tuple[int, str]:
    """'SEQ:HASH', as `audit_verify --show-anchor` prints it and the review page shows it."""
    match = ANCHOR_RE.match(text.strip().lower())
    if not match or int(match.group(1)) < 1:
        raise ValueError(f"an anchor is SEQ:HASH, a sequence number and 64 hex digits, not {text[:80]!r}")
    return int(match.group(1)), match.group(2)


def anchor_verdict(verdict: Verdict, anchors: Iterable[tuple[int, str]], found: Mapping[int, str]) -> Verdict:
    """Hold a verified chain to hashes written down outside the database earlier.

    A chain is only as trustworthy as its head: whoever can write the table can rewrite every event and
    recompute every hash. An anchor kept elsewhere (a ticket, a signed mail) is what that rewrite cannot change.
    """
    if not verdict.ok:
        return verdict
    for seq, expected in sorted(anchors):
        if seq not in found:
            return Verdict(False, verdict.events, seq, "missing: the anchored event is not in the log")
        if found[seq] != expected:
            return Verdict(
                False,
                verdict.events,
                seq,
                "changed: the event's hash is not the anchored one, so the chain was rewritten at or before it",
            )
    return verdict


def beyond_head_verdict(verdict: Verdict, highest_seq: int | None, head_seq: int) -> Verdict:
    """Events stored past the recorded head were written behind the chain's back: an append moves both."""
    if not verdict.ok or highest_seq is None or highest_seq <= head_seq:
        return verdict
    return Verdict(False, verdict.events, head_seq + 1, f"inserted: events after the recorded head (seq {head_seq})")


def tip_verdict(count: int, last_hash: str | None, tip: tuple[int, str]) -> Verdict:
    """Compare how a verified chain ends with the head the log recorded: a deleted tail or an appended forgery."""
    last_seq, recorded_hash = tip
    if (count, last_hash) == (last_seq, recorded_hash):
        return Verdict(True, count, last_hash=last_hash if count else None, last_seq=last_seq if count else None)
    if count > last_seq:
        return beyond_head_verdict(Verdict(True, count), count, last_seq)
    if last_seq > count:
        return Verdict(False, count, count + 1, f"missing: the log records {last_seq} events, found {count}")
    return Verdict(False, count, last_seq, "changed: the chain does not end at the recorded head")
