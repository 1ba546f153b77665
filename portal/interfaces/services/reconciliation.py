"""Settling what the portal could not see: lost answers, stuck executions, and writes SCP applies late.

Generic over operations: the server's interfaces are read here, and the operation decides from them. Nothing is
ever sent again.
"""

from __future__ import annotations

import contextlib
import datetime as dt

from django.conf import settings
from django.db import models
from django.utils.translation import gettext as _

from portal.core.scp import scp_client
from portal.identity.services import in_language_of
from portal.scp.client import ScpClient
from portal.scp.errors import ScpError, ScpNotFound

from ..errors import InvalidState
from ..lifecycle import transition
from ..models import InterfaceRequest, Status
from ..operations.base import LATE_LOOK_CAP_SECONDS, LATE_LOOK_FIRST_SECONDS, Settlement, Undecided
from .common import _now, defer, follow_up_later, scp_calls_for, settle

WATCHED = models.Q(status=Status.FAILED, watch_until__isnull=False)


def interface_request_reconcile(*, request_id: int, client: ScpClient | None = None) -> InterfaceRequest:
    """Settle a request whose outcome is unknown by looking at the server; never send the write again."""
    request = InterfaceRequest.objects.get(pk=request_id)
    with in_language_of(request.requester_id):  # the reasons are for the requester
        return _reconcile(request, client)


def _reconcile(request: InterfaceRequest, client: ScpClient | None) -> InterfaceRequest:
    lease_over = _now() - dt.timedelta(seconds=settings.CONFIG.execution_lease_seconds)
    stuck = request.status == Status.EXECUTING and request.claimed_at and request.claimed_at < lease_over
    if request.status != Status.UNKNOWN and not stuck:
        raise InvalidState(f"Request {request.pk} is {request.get_status_display()}; there is nothing to reconcile.")
    if request.ports_before is None:  # its worker stopped after the claim, before the write-ahead: nothing was sent
        reason = _("The worker carrying it out stopped before sending anything.")
        defer(request, reason=reason, payload={"stage": "claimed", "sent": False})
        return request
    client = client or scp_client()
    with scp_calls_for(request):
        try:
            interfaces = client.list_server_interfaces(request.server_id)
        except ScpNotFound:
            interfaces = []
        except ScpError:
            return request  # still unknown; the periodic reconciliation will try again
        verdict = request.operation.reconcile(client=client, request=request, interfaces=interfaces)
    if isinstance(verdict, Settlement) and verdict.event == "not_applied":
        verdict = _not_yet(request) or verdict
    if isinstance(verdict, Undecided):
        if request.status_reason != verdict.reason:  # a note when what blocks the decision changes
            transition(request, "undecided", reason=verdict.reason)
    elif isinstance(verdict, Settlement):
        settle(request, verdict)
    request.refresh_from_db()
    return request


def _not_yet(request: InterfaceRequest) -> Undecided | None:
    """A sent write not on the server (yet) stays open for LATE_APPLY_WINDOW_SECONDS from when that was first
    seen, looked at again meanwhile: SCP carries out a write its gateway gave up on within seconds. None once the
    window is over (or there is none): then it is not applied, and watched for the rare later write."""
    window = settings.CONFIG.late_apply_window_seconds
    if not window:
        return None
    now = _now()
    if request.late_until is None:
        request.late_until = now + dt.timedelta(seconds=window)
        InterfaceRequest.objects.filter(pk=request.pk).update(late_until=request.late_until)
    if now >= request.late_until:
        return None
    follow_up_later(request.pk, seconds=settings.CONFIG.scp_poll_interval, not_after=request.late_until)
    return Undecided(
        _(
            "Not on the server yet: SCP may still be carrying it out. The portal looks again until %(time)s UTC, "
            "and no other change starts on this server meanwhile."
        )
        % {"time": f"{request.late_until:%H:%M:%S}"}
    )


def requests_reconcile_due(*, client: ScpClient | None = None) -> int:
    """Settle every request whose outcome is unknown, or that has been executing past its lease."""
    lease_over = _now() - dt.timedelta(seconds=settings.CONFIG.execution_lease_seconds)
    # (one inside its late-apply window is looked at by its own follow-ups; this sweep takes it after the window)
    unknown = InterfaceRequest.objects.filter(status=Status.UNKNOWN).exclude(late_until__gt=_now())
    due = unknown | InterfaceRequest.objects.filter(status=Status.EXECUTING, claimed_at__lt=lease_over)
    settled = 0
    for request in due:
        with contextlib.suppress(InvalidState):  # settled meanwhile by someone else
            settled += interface_request_reconcile(request_id=request.pk, client=client).is_final
    return settled + requests_watch_late(client=client)


def requests_watch_late(*, client: ScpClient | None = None, every: bool = False) -> int:
    """Look again at writes that were sent, lost their answer and were found not applied: SCP may still carry
    them out. One that SCP applied after all is settled as its operation says, so that a "failed" request never
    sits beside an interface it made. Looks back off from a minute to an hour; `every` looks at every watched
    request now. Returns how many were settled."""
    now = _now()
    watched = InterfaceRequest.objects.filter(WATCHED, watch_until__gt=now).order_by("pk")
    if not every:
        watched = watched.filter(watch_next_at__lte=now)
    settled = 0
    for request in watched:
        client = client or scp_client()
        settled += _look_again(request, client)
    for request in InterfaceRequest.objects.filter(WATCHED, watch_until__lte=now):
        transition(
            request,
            "watch_end",
            where=WATCHED,
            reason=None,
            payload={"reason": "SCP did not apply the write while the portal watched; it stays failed."},
            watch_until=None,
            watch_next_at=None,
        )
    return settled


def _look_again(request: InterfaceRequest, client: ScpClient) -> bool:
    with scp_calls_for(request), in_language_of(request.requester_id):
        try:
            interfaces = client.list_server_interfaces(request.server_id)
        except ScpNotFound:
            interfaces = []
        except ScpError:
            return _next_look(request)
        verdict = request.operation.look_late(client=client, request=request, interfaces=interfaces)
    if isinstance(verdict, Settlement):
        return settle(request, verdict, where=WATCHED, watch_until=None, watch_next_at=None)
    if isinstance(verdict, Undecided):
        transition(
            request,
            "undecided_watched",
            where=WATCHED,
            reason=None,
            payload={"reason": verdict.reason, "watched": True},
            updated_at=request.updated_at,  # the watch's backoff counts from when it began
        )
    return _next_look(request)


def _next_look(request: InterfaceRequest) -> bool:
    """Back off: the next look after as long again as the request has been watched (a minute to an hour)."""
    watched_for = (_now() - request.updated_at).total_seconds()
    delay = min(max(watched_for, LATE_LOOK_FIRST_SECONDS), LATE_LOOK_CAP_SECONDS)
    InterfaceRequest.objects.filter(WATCHED, pk=request.pk).update(watch_next_at=_now() + dt.timedelta(seconds=delay))
    return False
