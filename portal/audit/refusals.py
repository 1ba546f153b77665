"""Refusals that anyone can cause without credentials (a garbage bearer token, sign-ins beyond the lock-out),
aggregated per source address and window, so that no stranger can grow the append-only log without bound.

The first refusal of a kind from a source in a window is recorded at once, with its detail; the rest are counted
(`RefusalTally`), and when the window ends an outbox effect writes one event with how many more came. Callers
use the count to refuse a source that is over its limit (429) before doing any work for it.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
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


def _window() -> dt.timedelta:
    return dt.timedelta(seconds=settings.CONFIG.refusal_window_seconds)


@dataclass(frozen=True)
class Counted:
    count: int  # refusals of this kind from this source in the window, this one included
    window_ends: dt.datetime


def refusal_counted(
    action: AuditAction, *, source: str | None, payload: dict[str, Any], kind: str = "", target: str = "", actor=None
) -> Counted:
    """Count one refusal from `source`; the first of its window is recorded now. Returns the count so far and
    when the window ends (a caller over its limit says when to try again).

    A window begins with the first refusal of its kind from a source; one tally row per kind and source (locked
    while counting), so two refusals at once never both count as the first."""
    source = (source or "unknown")[:64]
    now = timezone.now()
    with transaction.atomic():
        tally, created = RefusalTally.objects.select_for_update().get_or_create(
            action=action.value, kind=kind[:64], source=source, defaults={"window_start": now}
        )
        if not created and tally.window_start + _window() > now:
            RefusalTally.objects.filter(pk=tally.pk).update(count=F("count") + 1)
            return Counted(tally.count + 1, tally.window_start + _window())
        if not created:  # its window is over, and its summary not written yet: write it now, and begin anew
            _write_summary(tally)
            RefusalTally.objects.filter(pk=tally.pk).update(window_start=now, count=1)
        record_event(
            action=action, outcome=Outcome.DENIED, payload={**payload, "source": source}, target=target, actor=actor
        )
        effect_add(SUMMARY_EFFECT, args={"tally": tally.pk, "window_start": now.isoformat()}, due_at=now + _window())
    return Counted(1, now + _window())


def over_limit(counted: Counted) -> int | None:
    """Seconds until the source's window ends when it is over ANONYMOUS_REFUSAL_LIMIT (answer 429 with them as
    Retry-After); None while it is within the limit."""
    if counted.count <= settings.CONFIG.anonymous_refusal_limit:
        return None
    return max(1, math.ceil((counted.window_ends - timezone.now()).total_seconds()))


def _write_summary(tally: RefusalTally) -> None:
    """One event with how many more refusals came in the tally's window (none when only the first came)."""
    action = action_named(tally.action)
    if tally.count > 1 and action is not None:
        record_event(
            action=action,
            outcome=Outcome.DENIED,
            payload={
                "source": tally.source,
                "kind": tally.kind,
                "more": tally.count - 1,
                "window_start": tally.window_start.isoformat(),
                "window_end": (tally.window_start + _window()).isoformat(),
            },
            target=tally.source,
        )


def _summarise(effect: Effect) -> None:
    """The window is over: its summary, and the tally goes (unless a refusal since has begun a new window)."""
    with transaction.atomic():
        tally = RefusalTally.objects.select_for_update().filter(pk=effect.args["tally"]).first()
        if tally is None or tally.window_start.isoformat() != effect.args.get("window_start"):
            return  # summarised already (a repeated delivery, or a new window began and wrote it)
        _write_summary(tally)
        tally.delete()


def register_handlers() -> None:
    register(SUMMARY_EFFECT, _summarise)
