"""Asking for a verification of the whole chain: an audit event and an outbox effect, in one transaction."""

from __future__ import annotations

from django.db import transaction

from .events import AuditAction
from .outbox import effect_add
from .services import record_event

VERIFY_EFFECT = "audit.verify"


@transaction.atomic
def audit_verification_start(*, user) -> None:
    """Queue a verification of the whole chain (the badge, and the API's verification, show its result)."""
    record_event(action=AuditAction.VERIFY_STARTED, payload={}, actor=user)
    effect_add(VERIFY_EFFECT)
