"""Signed checkpoints of the audit log (c2sp.org/tlog-checkpoint over the RFC 6962 tree of audit.merkle).

A checkpoint says "the first N events make this root", signed with the portal's Ed25519 key
(AUDIT_SIGNING_KEY_FILE). Each continues the last one's tree from its right edge, so signing costs the new events
only; before it signs, it checks that the last checkpoint's final event still has the chain hash it had, and
that every event after it is there in order. A rewrite of history (which changes every later hash) or deleted
events therefore stop the signing, recorded as `audit.checkpoint_refused`: the portal never signs a checkpoint
inconsistent with one it signed before. Someone who kept a checkpoint proves the log still extends it with
`audit_verify --checkpoint FILE`, or asks for a consistency proof between two checkpoints (audit.proofs). Each
new checkpoint is sent to the configured witnesses in the transaction that records it (audit.witnessing).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import merkle, note, witnessing
from .events import AuditAction
from .models import AuditCheckpoint, AuditEvent, Outcome
from .selectors import chain_head
from .services import record_event

logger = logging.getLogger(__name__)


class CheckpointUnavailable(Exception):
    """No checkpoint can be signed (no key configured), or one asked for does not exist."""


class CheckpointRefused(Exception):
    """The log no longer extends the last checkpoint: nothing was signed."""


@functools.lru_cache(maxsize=4)
def _signer_from(path: Path, mtime: float) -> note.Signer:
    return note.Signer.from_text(path.read_text(encoding="utf-8"))


def signer() -> note.Signer:
    """The portal's signing key (CheckpointUnavailable when none is configured or it cannot be read)."""
    path = settings.CONFIG.audit_signing_key_file
    if path is None:
        raise CheckpointUnavailable("No audit signing key is configured (AUDIT_SIGNING_KEY_FILE).")
    try:
        key = _signer_from(path, path.stat().st_mtime)
    except (OSError, note.NoteError) as exc:
        raise CheckpointUnavailable(f"The audit signing key cannot be used: {exc}") from None
    if key.name != settings.CONFIG.audit_log_origin:
        raise CheckpointUnavailable(
            f"The audit signing key is named {key.name}, not the log's origin {settings.CONFIG.audit_log_origin}."
        )
    return key


def new_signing_key(path: Path) -> note.Signer:
    """Write a new signing key for the log's origin to `path` (readable by its owner only); an existing file is
    kept and its key returned."""
    if path.exists():
        return note.Signer.from_text(path.read_text(encoding="utf-8"))
    key = note.Signer.generate(settings.CONFIG.audit_log_origin)
    path.touch(mode=0o600)
    path.write_text(key.text() + "\n", encoding="utf-8")
    return key


def published() -> dict | None:
    """What the audit page shows of the checkpoints: the latest one and the key that verifies it (None when the
    portal signs none)."""
    try:
        vkey = signer().verifier().vkey()
    except CheckpointUnavailable:
        return None
    return {
        "latest": latest(),
        "verifier_key": vkey,
        "interval": settings.CONFIG.audit_checkpoint_interval,
        "witnesses": witnessing.witness_states(),
    }


def latest() -> AuditCheckpoint | None:
    return AuditCheckpoint.objects.order_by("-size").first()


def _tree_since(last: AuditCheckpoint | None, up_to: int) -> tuple[merkle.CompactRange, str]:
    """The tree of the first `up_to` events, continued from `last`, and the chain hash of its final event;
    CheckpointRefused when the log no longer extends `last`."""
    compact, final_hash = merkle.CompactRange(), ""
    if last is not None:
        if up_to < last.size:
            raise CheckpointRefused(
                f"The log has {up_to} events, but checkpoint {last.size} was signed: events at the end were deleted."
            )
        kept = AuditEvent.objects.filter(seq=last.size).values_list("hash", flat=True).first()
        if kept != last.last_hash:
            raise CheckpointRefused(
                f"Event {last.size} no longer has the hash checkpoint {last.size} was signed over: history was "
                "rewritten (or the event deleted)."
            )
        compact.size, compact.peaks = last.size, [bytes.fromhex(p) for p in last.peaks]
        final_hash = last.last_hash
    rows = AuditEvent.objects.filter(seq__gt=compact.size, seq__lte=up_to).order_by("seq").values_list("seq", "hash")
    for seq, event_hash in rows.iterator(chunk_size=5000):
        if seq != compact.size + 1:
            raise CheckpointRefused(f"Event {compact.size + 1} is missing from the log: it was deleted.")
        compact.append(merkle.chain_leaf(event_hash))
        final_hash = event_hash
    if compact.size != up_to:
        raise CheckpointRefused(f"Event {compact.size + 1} is missing from the log: it was deleted.")
    return compact, final_hash


def checkpoint_make(*, now: dt.datetime | None = None) -> AuditCheckpoint | None:
    """Sign a checkpoint of the log as it stands, when it has grown since the last one (None when it has not).
    CheckpointRefused (recorded as an event) when it no longer extends the last one; CheckpointUnavailable
    without a key."""
    key = signer()
    last = latest()
    try:
        compact, final_hash = _tree_since(last, chain_head()[0])
    except CheckpointRefused as exc:
        record_event(
            action=AuditAction.CHECKPOINT_REFUSED,
            outcome=Outcome.FAILURE,
            payload={"reason": str(exc), "last_checkpoint": last.size if last else None},
            target="audit-log",
        )
        raise
    if compact.size == 0 or (last is not None and compact.size == last.size):
        return None
    root = compact.root()
    signed = key.sign(note.checkpoint_text(key.name, compact.size, root))
    try:
        with transaction.atomic():
            checkpoint = AuditCheckpoint.objects.create(
                size=compact.size,
                root=root.hex(),
                last_hash=final_hash,
                peaks=[p.hex() for p in compact.peaks],
                note=signed,
                created_at=now or timezone.now(),
            )
            witnessing.witnesses_ask(checkpoint)
    except IntegrityError:  # another scheduler signed this size meanwhile: the same tree, the same root
        return AuditCheckpoint.objects.get(size=compact.size)
    _write_out(checkpoint)
    return checkpoint


def _write_out(checkpoint: AuditCheckpoint) -> None:
    folder = settings.CONFIG.audit_checkpoint_dir
    if folder is None:
        return
    try:
        (folder / f"{checkpoint.size}.checkpoint").write_text(checkpoint.note, encoding="utf-8")
    except OSError:
        logger.exception("checkpoint %d could not be written to %s", checkpoint.size, folder)
