"""Refusals that anyone can cause without credentials (a garbage bearer token, sign-ins beyond the lock-out),
aggregated per source address and window, so that no stranger can grow the append-only log without bound.

The first refusal of a kind from a source in a window is recorded at once, with its detail; the rest are counted
(`RefusalTally`), and when the window ends an outbox effect writes one event with how many more came. Callers
use the count to refuse a source that is over its limit (429) before doing any work for it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .events import AuditAction, action_named
from .models import Effect, Outcome, RefusalTally
from .outbox import effect_add, register
from .services import record_event

SUMMARY_EFFECT = "audit.refusal_summary"


def _window_start(now: dt.datetime) -> dt.datetime:
    seconds = settings.CONFIG.refusal_window_seconds
    return dt.datetime.fromtimestamp(now.timestamp() // seconds * seconds, tz=dt.UTC)


def refusal_counted(
    action: AuditAction, *, source: str | None, payload: dict[str, Any], kind: str = "", target: str = "", actor=None
) -> int:
    """Count one refusal from `source`; the first of its window is recorded now. Returns the count so far."""
    source = (source or "unknown")[:64]
    window = _window_start(timezone.now())
    key = {"action": action.value, "kind": kind[:64], "source": source, "window_start": window}
    with transaction.atomic():
        tally, created = RefusalTally.objects.get_or_create(**key)
        if not created:
            RefusalTally.objects.filter(pk=tally.pk).update(count=F("count") + 1)
            return tally.count + 1
        record_event(
            action=action, outcome=Outcome.DENIED, payload={**payload, "source": source}, target=target, actor=actor
        )
        ends = window + dt.timedelta(seconds=settings.CONFIG.refusal_window_seconds)
        effect_add(SUMMARY_EFFECT, args={"tally": tally.pk}, due_at=ends)
    return 1


def _summarise(effect: Effect) -> None:
    """The window is over: one event with how many more refusals came, and the tally goes."""
    with transaction.atomic():
        tally = RefusalTally.objects.select_for_update().filter(pk=effect.args["tally"]).first()
        if tally is None:
            return  # summarised already (a repeated delivery)
        action = action_named(tally.action)
        if tally.count > 1 and action is not None:
            ends = tally.window_start + dt.timedelta(seconds=settings.CONFIG.refusal_window_seconds)
            record_event(
                action=action,
                outcome=Outcome.DENIED,
                payload={
                    "source": tally.source,
                    "kind": tally.kind,
                    "more": tally.count - 1,
                    "window_start": tally.window_start.isoformat(),
                    "window_end": ends.isoformat(),
                },
                target=tally.source,
            )
        tally.delete()


def register_handlers() -> None:
    register(SUMMARY_EFFECT, _summarise)
