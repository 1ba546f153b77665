"""Asking for a verification of the whole chain (an audit event and an outbox effect, in one transaction), and the
Merkle tree over the chain that roots kept elsewhere are checked against."""

from __future__ import annotations

from django.db import transaction

from . import merkle
from .events import AuditAction
from .models import AuditEvent
from .outbox import effect_add
from .services import record_event

VERIFY_EFFECT = "audit.verify"


@transaction.atomic
def audit_verification_start(*, user) -> None:
    """Queue a verification of the whole chain (the badge, and the API's verification, show its result)."""
    record_event(action=AuditAction.VERIFY_STARTED, payload={}, actor=user)
    effect_add(VERIFY_EFFECT)


def audit_tree(*, up_to: int, sizes: set[int]) -> tuple[merkle.CompactRange, dict[int, bytes]]:
    """The Merkle tree of the first `up_to` events (leaf i: the chain hash of event i + 1), and the roots of its
    prefixes of the given sizes, streamed from the database."""
    hashes = AuditEvent.objects.filter(seq__lte=up_to).order_by("seq").values_list("hash", flat=True)
    return merkle.roots_along(hashes.iterator(chunk_size=5000), sizes)
