"""What the request services share: the clock seam, binding SCP calls to the request they are made for, the
retry of a write that sent nothing, and the next look at a write in flight."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.tasks import default_task_backend
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit.services import scp_call_binding

from ..lifecycle import transition
from ..models import InterfaceRequest
from ..operations.base import Settlement

# An approved request that cannot reach SCP before sending anything waits and tries again: 30 s, 1, 2, 4, 8,
# then every 15 minutes, for about an hour and a half in all, before it fails with the reason.
RETRY_BASE_SECONDS = 30
RETRY_CAP_SECONDS = 900
MAX_ATTEMPTS = 9
FOLLOW_UP_FIRST_SECONDS = 0.25
# The task that looks once more (interfaces.tasks.follow_up_interface_request), set by the app at start-up:
# services never import tasks.
FOLLOW_UP_TASK: Any = None


def _now() -> dt.datetime:
    return timezone.now()


@contextlib.contextmanager
def scp_calls_for(request: InterfaceRequest) -> Iterator[None]:
    """Every SCP call made inside is audited as this request's."""
    token = scp_call_binding.set((request.pk, request.server_id))
    try:
        yield
    finally:
        scp_call_binding.reset(token)


def settle(request: InterfaceRequest, settlement: Settlement, **extra) -> bool:
    """Apply an operation's settlement through the lifecycle."""
    return transition(
        request,
        settlement.event,
        reason=settlement.reason,
        payload=settlement.payload,
        **{**settlement.fields, **extra},
    )


def fail(request: InterfaceRequest, *, reason: str, payload: dict[str, Any]) -> InterfaceRequest:
    """End an executing request as failed, with the reason the requester will read."""
    transition(request, "fail", reason=reason, payload=payload)
    return request


def defer(request: InterfaceRequest, *, reason: str, payload: dict[str, Any]) -> InterfaceRequest:
    """Nothing was sent (SCP could not be reached, or the worker stopped before sending): back to approved, and
    tried again after a backoff. Its server is free meanwhile."""
    attempts = request.attempts + 1
    if attempts >= MAX_ATTEMPTS:
        reason = _("%(reason)s The portal tried %(n)d times over about an hour and a half; nothing was sent.") % {
            "reason": reason,
            "n": attempts,
        }
        return fail(request, reason=reason + " " + _("You can submit again."), payload=payload)
    delay = min(RETRY_BASE_SECONDS * 2 ** (attempts - 1), RETRY_CAP_SECONDS)
    next_at = _now() + dt.timedelta(seconds=delay)
    transition(
        request,
        "defer",
        reason=_("%(reason)s Nothing was sent; the portal tries again at %(time)s UTC (attempt %(n)d).")
        % {"reason": reason, "time": f"{next_at:%H:%M:%S}", "n": attempts + 1},
        payload={**payload, "attempt": attempts, "retry_in_seconds": delay},
        attempts=attempts,
        next_attempt_at=next_at,
        effects_due_at=next_at,
        ports_before=None,  # this attempt sent nothing: the next one takes its own snapshot
        late_until=None,
        answered_at=None,
    )
    return request


def follow_up_later(
    request_id: int, attempt: int = 1, *, seconds: float | None = None, not_after: dt.datetime | None = None
) -> bool:
    """Schedule the next look at a request in flight: after `seconds`, or with backoff capped at SCP_POLL_INTERVAL,
    and never later than `not_after`. A look lost with its worker costs nothing: reconciliation settles a request
    executing past its lease, and every unknown one. False when the task backend cannot run anything later (the
    tests' immediate one): the caller waits in place, or leaves it to the periodic reconciliation."""
    if not default_task_backend.supports_defer or FOLLOW_UP_TASK is None:
        return False
    if seconds is None:
        seconds = min(FOLLOW_UP_FIRST_SECONDS * 2 ** (attempt - 1), settings.CONFIG.scp_poll_interval)
    run_after = _now() + dt.timedelta(seconds=seconds)
    if not_after is not None:
        run_after = min(run_after, not_after)
    FOLLOW_UP_TASK.using(run_after=run_after).enqueue(request_id, attempt)
    return True
