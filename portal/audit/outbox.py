"""The transactional outbox: effects that must follow a committed change, and that a crash cannot lose.

`effect_add` writes an Effect row inside the caller's transaction, beside the change and its audit event, and
schedules its delivery: on the database task backend the delivery task's row is written in that same
transaction, so the change, its effect and the task that delivers it commit (or roll back) together. On a
backend without a queue (the tests' immediate one) delivery runs after the commit.

The worker delivers each effect at least once: a delivery claims the row with a lease, runs the handler
registered for its kind, and marks it delivered. A worker that dies after the handler ran leaves the lease to
expire, and the scheduler's sweep (`effects_deliver_due`) delivers it again, so handlers are idempotent: an
execution is claimed once whatever starts it, and a mail goes once to each recipient of an effect. A handler
that raises is tried again with backoff, each failure an audit event, until MAX_ATTEMPTS; the backlog shows in
/readyz, /metrics and the admin's list of effects.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.tasks import default_task_backend
from django.utils import timezone

from portal.core.logs import mask_secrets

from .events import AuditAction
from .models import Effect
from .services import record_event

logger = logging.getLogger(__name__)

Handler = Callable[[Effect], None]
HANDLERS: dict[str, Handler] = {}
# The delivery task's priority per kind (the task queue runs higher first; 0 unless registered otherwise).
PRIORITIES: dict[str, int] = {}
# The task that delivers one effect (audit.tasks.deliver_effect), set by the audit app at start-up.
DELIVERY_TASK: Any = None
MAX_ATTEMPTS = 10
BACKOFF_BASE_SECONDS = 5
BACKOFF_CAP_SECONDS = 3600
KEEP_DELIVERED_DAYS = 30


def _now() -> dt.datetime:
    return timezone.now()


def register(kind: str, handler: Handler, *, priority: int = 0) -> Handler:
    """Deliver effects of `kind` to `handler` (apps register theirs in `AppConfig.ready()`). Of effects that
    are due together, those of a higher `priority` are delivered first: starting an execution goes before the
    mail written with it (saying it was approved), which then waits until the execution lets go of the worker
    (see `deliveries_for`), so that the mail is never in the way of the write it announces."""
    HANDLERS[kind] = handler
    PRIORITIES[kind] = priority
    return handler


def handles(kind: str) -> Callable[[Handler], Handler]:
    """Decorator form of `register`."""
    return lambda handler: register(kind, handler)


def crash_point(name: str) -> None:
    """Kill this process here when CRASH_POINTS names `name`: how the crash tests stop a process at the worst
    moment. Unset (always, outside those tests), it does nothing."""
    if name in settings.CONFIG.crash_points:
        logger.warning("crash point %s: killing process %d", name, os.getpid())
        os.kill(os.getpid(), signal.SIGKILL)


def effect_add(
    kind: str,
    *,
    interface_request_id: int | None = None,
    args: dict[str, Any] | None = None,
    due_at: dt.datetime | None = None,
) -> Effect:
    """Write one effect in the current transaction and schedule its delivery with it."""
    if kind not in HANDLERS:
        raise LookupError(f"no handler is registered for effects of kind {kind!r}")
    now = _now()
    effect = Effect.objects.create(
        kind=kind,
        interface_request_id=interface_request_id,
        args=args or {},
        created_at=now,
        due_at=max(due_at or now, now),
    )
    _schedule(effect)
    if "effect.committed" in settings.CONFIG.crash_points:
        transaction.on_commit(lambda: crash_point("effect.committed"))
    return effect


def _schedule(effect: Effect) -> None:
    if default_task_backend.supports_defer:  # a queue in this database: the task row commits with the effect
        run_after = effect.due_at if effect.due_at > _now() else None
        DELIVERY_TASK.using(run_after=run_after, priority=PRIORITIES.get(effect.kind, 0)).enqueue(effect.pk)
    else:
        effect_id = effect.pk
        transaction.on_commit(lambda: effect_deliver(effect_id=effect_id), robust=True)


def deliveries_for(*, interface_request_id: int) -> list[tuple[str, list]]:
    """The delivery tasks (task path, arguments) of a request's effects still to deliver: what an execution that
    waits in place for SCP may leave waiting for a while (interfaces.operations.attach), rather than hand the
    worker over to its own request's mail."""
    pending = Effect.objects.filter(interface_request_id=interface_request_id, delivered_at=None, given_up_at=None)
    return [(DELIVERY_TASK.module_path, [pk]) for pk in pending.values_list("pk", flat=True)]


def effects_deliver_for(*, interface_request_id: int) -> int:
    """Deliver a request's due effects now, in this process (one whose execution waits in place for SCP): each
    is claimed as any delivery is, so one under way elsewhere (that execution's own start) is left alone, and
    their queued deliveries later find them delivered. Returns how many were delivered."""
    due = Effect.objects.filter(_deliverable(_now()), interface_request_id=interface_request_id).order_by("pk")
    return _deliver_each(due)


def _deliver_each(effects) -> int:
    """Deliver each effect of a queryset (read once, then each claimed as any delivery is); how many were."""
    return sum(effect_deliver(effect_id=pk) == "delivered" for pk in list(effects.values_list("pk", flat=True)))


def _deliverable(now: dt.datetime) -> Q:
    return Q(delivered_at=None, given_up_at=None, due_at__lte=now) & (Q(locked_until=None) | Q(locked_until__lt=now))


def effect_deliver(*, effect_id: int) -> str:
    """Deliver one effect if it is due and nobody else is delivering it; returns what became of it."""
    now = _now()
    lease = now + dt.timedelta(seconds=settings.CONFIG.effect_lease_seconds)
    claimed = Effect.objects.filter(_deliverable(now), pk=effect_id).update(
        locked_until=lease, attempts=F("attempts") + 1
    )
    if not claimed:
        return "skipped"  # delivered already, under way elsewhere, not yet due, or given up
    effect = Effect.objects.get(pk=effect_id)
    handler = HANDLERS.get(effect.kind)
    try:
        if handler is None:
            raise LookupError(f"no handler is registered for effects of kind {effect.kind!r}")
        handler(effect)
    except Exception as exc:  # a failing effect never undoes the change it follows: it is tried again
        return _delivery_failed(effect, exc)
    crash_point("effect.handled")
    Effect.objects.filter(pk=effect.pk).update(delivered_at=_now(), locked_until=None, last_error="")
    return "delivered"


def _delivery_failed(effect: Effect, exc: Exception) -> str:
    logger.exception("effect %s #%d failed (attempt %d)", effect.kind, effect.pk, effect.attempts)
    error = mask_secrets(f"{type(exc).__name__}: {exc}".splitlines()[0])[:500]
    give_up = effect.attempts >= MAX_ATTEMPTS
    delay = min(BACKOFF_BASE_SECONDS * 2 ** (effect.attempts - 1), BACKOFF_CAP_SECONDS)
    with transaction.atomic():
        now = _now()
        Effect.objects.filter(pk=effect.pk).update(
            locked_until=None,
            last_error=error,
            given_up_at=now if give_up else None,
            due_at=effect.due_at if give_up else now + dt.timedelta(seconds=delay),
        )
        record_event(
            action=AuditAction.EFFECT_FAILED,
            payload={
                "effect": effect.pk,
                "kind": effect.kind,
                "attempt": effect.attempts,
                "error": error,
                "given_up": give_up,
                "retry_in_seconds": None if give_up else delay,
            },
            target=f"effect:{effect.pk}",
            interface_request_id=effect.interface_request_id,
        )
        if not give_up:
            effect.refresh_from_db()
            _schedule(effect)
    return "given up" if give_up else "failed"


def effects_deliver_due(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """The safety net: deliver each effect whose delivery was lost (its worker died mid-delivery, or its task
    never ran), i.e. due for longer than a lease. Returns how many were delivered."""
    now = now or _now()
    stale = now - dt.timedelta(seconds=settings.CONFIG.effect_lease_seconds)
    due = Effect.objects.filter(_deliverable(now), due_at__lte=stale).order_by("due_at")
    return _deliver_each(due[:limit])


def effects_prune(*, now: dt.datetime | None = None) -> int:
    """Forget delivered effects older than KEEP_DELIVERED_DAYS (the audit log keeps what happened; the outbox only
    what is still to do, and a while of what was done, for the admin's list). Returns how many went."""
    cutoff = (now or _now()) - dt.timedelta(days=KEEP_DELIVERED_DAYS)
    deleted, _ = Effect.objects.filter(delivered_at__lt=cutoff).delete()
    return deleted


def effects_backlog() -> dict[str, Any]:
    """What is waiting: undelivered effects, those failing, those given up, and the oldest one's age."""
    open_ = Effect.objects.filter(delivered_at=None, given_up_at=None)
    oldest = open_.order_by("created_at").values_list("created_at", flat=True).first()
    return {
        "pending": open_.count(),
        "failing": open_.filter(attempts__gt=0).exclude(last_error="").count(),
        "given_up": Effect.objects.filter(given_up_at__isnull=False).count(),
        "oldest_seconds": (_now() - oldest).total_seconds() if oldest else 0.0,
    }
