"""Receipts: proof that a request's audit events are in the log, checkable offline without a copy of the log.

A receipt is one c2sp.org/tlog-proof per event, one after the other, all against the same checkpoint: the
`extra` line carries the event in its canonical form (what its chain hash is the SHA-256 of, audit.chain), the
`index` line its place in the tree (its sequence number less one), then its RFC 6962 inclusion proof and the
checkpoint with the log's signature and the witnesses' cosignatures. Verifying it recomputes each event's chain
hash and leaf, walks the proof to the root, and checks the signatures: one changed byte of an event, a proof for
another tree, or a checkpoint the log's key did not sign fails it.

    python -m portal.audit.receipt verify FILE --key <the log's vkey> [--witness <a witness's vkey>]...

Each --witness must have cosigned the checkpoint. Standard library and `cryptography` only: no Django.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from . import merkle, note
from .chain import HASHED_FIELDS, canonical

HEADER = "c2sp.org/tlog-proof@v1"
SUFFIX = ".tlog-proof"


class ReceiptError(ValueError):
    """A receipt that is malformed or does not prove what it says."""


@dataclass(frozen=True)
class Proven:
    """One event a receipt proves, and the checkpoint it is proven against."""

    event: dict
    size: int
    origin: str
    witnessed: list[tuple[str, int]]  # (witness name, cosignature time) of each --witness


def proof_text(event_canonical: bytes, seq: int, proof: list[bytes], checkpoint_note: str) -> str:
    """One event's tlog-proof."""
    lines = [HEADER, f"extra {base64.b64encode(event_canonical).decode()}", f"index {seq - 1}"]
    lines += [base64.b64encode(h).decode() for h in proof]
    return "\n".join(lines) + "\n\n" + checkpoint_note


def _blocks(text: str) -> list[str]:
    if not text.startswith(HEADER + "\n"):
        raise ReceiptError(f"a receipt begins with the line {HEADER}")
    return [HEADER + part for part in re.split(rf"(?m)^{re.escape(HEADER)}$", text)[1:]]


def _event(extra: str) -> tuple[dict, bytes]:
    try:
        data = base64.b64decode(extra, validate=True)
        event = json.loads(data.decode("utf-8"))
    except ValueError:
        raise ReceiptError("the extra line is not an event (base64 of its JSON)") from None
    if not isinstance(event, dict) or set(event) != set(HASHED_FIELDS) or canonical(event) != data:
        raise ReceiptError("the extra line is not an audit event in its canonical form")
    return event, data


def verify_one(block: str, log: note.Verifier, witnesses: list[note.Verifier]) -> Proven:
    """Check one tlog-proof of a receipt: its event, its inclusion proof and its checkpoint's signatures."""
    head, sep, signed = block.partition("\n\n")
    lines = head.split("\n")
    if not sep or len(lines) < 3 or lines[0] != HEADER or not lines[1].startswith("extra "):
        raise ReceiptError("a proof is the header, an extra line, an index line, the hashes, then the checkpoint")
    index = re.fullmatch(r"index (0|[1-9][0-9]{0,18})", lines[2])
    if index is None:
        raise ReceiptError("the index line is 'index N'")
    event, data = _event(lines[1][6:])
    if event["seq"] != int(index.group(1)) + 1:
        raise ReceiptError(f"the event has seq {event['seq']}, but the proof is for index {index.group(1)}")
    try:
        proof = [base64.b64decode(line, validate=True) for line in lines[3:]]
        text, found = note.signatures_of(signed, [log, *witnesses])
        origin, size, root = note.parse_checkpoint(text)
    except (ValueError, note.NoteError) as exc:
        raise ReceiptError(f"the checkpoint does not check out: {exc}") from None
    names = {(verifier.name, verifier.id, verifier.kind): timestamp for verifier, timestamp, _ in found}
    if origin != log.name or (log.name, log.id, log.kind) not in names:
        raise ReceiptError(f"the checkpoint is not signed by the log's key {log.name}")
    missing = [w.name for w in witnesses if (w.name, w.id, w.kind) not in names]
    if missing:
        raise ReceiptError(f"the checkpoint is not cosigned by {', '.join(missing)}")
    leaf = merkle.leaf_hash(hashlib.sha256(data).digest())
    try:
        merkle.verify_inclusion(event["seq"] - 1, size, leaf, proof, root)
    except merkle.ProofError as exc:
        raise ReceiptError(f"event {event['seq']} is not in checkpoint {size}: {exc}") from None
    return Proven(event, size, origin, [(w.name, names[(w.name, w.id, w.kind)]) for w in witnesses])


def verify(text: str, log: note.Verifier, witnesses: list[note.Verifier]) -> list[Proven]:
    """Every proof of a receipt (ReceiptError at the first that fails)."""
    return [verify_one(block, log, witnesses) for block in _blocks(text)]


def _report(proven: list[Proven]) -> str:
    lines = [
        f"seq {p.event['seq']}  {p.event['created_at']}  {p.event['action']}  {p.event['outcome']}" for p in proven
    ]
    last = proven[-1]
    line = f"{len(proven)} event(s) proven in checkpoint {last.size} of {last.origin}, signed by the log"
    for name, timestamp in last.witnessed:
        line += f"; cosigned by {name} at {dt.datetime.fromtimestamp(timestamp, dt.UTC):%Y-%m-%d %H:%M:%S} UTC"
    return "\n".join([*lines, line])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m portal.audit.receipt", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("verify", help="verify a receipt offline")
    check.add_argument("file", help=f"the receipt ({SUFFIX})")
    check.add_argument("--key", required=True, help="the log's verifier key (audit_checkpoint --verifier-key)")
    check.add_argument("--witness", action="append", default=[], help="a witness's key that must have cosigned")
    args = parser.parse_args(argv)
    try:
        log = note.Verifier.from_vkey(args.key)
        witnesses = [note.Verifier.from_vkey(w) for w in args.witness]
        proven = verify(Path(args.file).read_text(encoding="utf-8"), log, witnesses)
    except (OSError, UnicodeDecodeError, note.NoteError, ReceiptError) as exc:
        print(f"NOT VERIFIED: {exc}", file=sys.stderr)
        return 1
    print(_report(proven))
    return 0


if __name__ == "__main__":
    sys.exit(main())
