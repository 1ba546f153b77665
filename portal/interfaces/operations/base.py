"""What every operation provides, and the small values the services and an operation pass each other."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit.events import AuditAction
from portal.audit.outbox import deliveries_for, effects_deliver_for
from portal.scp import schemas
from portal.scp.client import ScpClient
from portal.scp.errors import ScpBadRequest, ScpConflict, ScpHttpError

if TYPE_CHECKING:  # (the request model names its operation in turn: a type-only reference both ways)
    from ..models import InterfaceRequest

# How long after a not-applied finding the portal first looks again for SCP applying the write late, and at most.
LATE_LOOK_FIRST_SECONDS = 60
LATE_LOOK_CAP_SECONDS = 3600
# How long the mails written with an execution's start may wait while it waits in place for SCP.
OWN_EFFECTS_WAIT_SECONDS = 5.0


class OwnEffects:
    """What an execution waiting in place for SCP (an attach's new port settling) does about the effects its
    request wrote with its start (the approval's mail, delivered after the start so as never to delay the write):
    their queued deliveries do not take the worker from it (`besides`, for tasks_waiting), and once it has waited
    OWN_EFFECTS_WAIT_SECONDS it delivers them itself (`deliver_when_due`), so that a slow port delays that mail
    by seconds, not minutes. (A detach lets go of the worker after its DELETE: its mail goes then.)"""

    def __init__(self, request_id: int) -> None:
        self.request_id = request_id
        self.besides = deliveries_for(interface_request_id=request_id)
        self._due: float | None = time.monotonic() + OWN_EFFECTS_WAIT_SECONDS

    def deliver_when_due(self) -> None:
        if self._due is not None and time.monotonic() >= self._due:
            self._due = None
            effects_deliver_for(interface_request_id=self.request_id)


@dataclass(frozen=True)
class ScpCall:
    """Exactly what the portal sends: the method, the path under the virtualserver service, the JSON body."""

    method: str
    path: str
    body: dict[str, Any] | None = None


@dataclass(frozen=True)
class Settlement:
    """How a request moves on: a lifecycle event, what the requester reads, what the event and the row keep."""

    event: str
    reason: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Undecided:
    """The portal cannot tell yet whether the write was applied; `reason` says why, to the requester."""

    reason: str


class Operation:
    """One kind of change a request can ask for. Subclasses fill in every method; the services call them."""

    name: ClassVar[str]  # stored in InterfaceRequest.action
    intent_action: ClassVar[AuditAction] = AuditAction.WRITE_INTENT  # the write-ahead event, before the call
    resubmittable: ClassVar[bool] = False  # a failed request's page offers "Submit again" (the attach form)
    # What `validate` returns, when it can be carried to the next step as JSON: a class with `facts()` and
    # `from_facts()` (services.checks). None: every step asks SCP again.
    plan_class: ClassVar[Any] = None

    # --- submission -------------------------------------------------------------------------------------------
    def validate(
        self, *, client: ScpClient, params: dict[str, Any], owner_check, exclude_pk: int | None = None, viewer=None
    ):
        """Check the proposal live against SCP; a plan (with .server, .action, .mode, .fixed_ips, .interfaces)
        or AttachRejected with reasons by field. `owner_check` sees the server first; `viewer` (who proposes it)
        is told only of other requests they may see."""
        raise NotImplementedError

    def record_fields(self, plan) -> dict[str, Any]:
        """The request's own columns (and `parameters`) for a validated plan."""
        raise NotImplementedError

    def audited_input(self, params: dict[str, Any]) -> dict[str, Any]:
        """What the requester proposed, bounded, for the audit event of a refusal."""
        return {"action": self.name, **{k: str(v)[:200] for k, v in params.items()}}

    # --- the call -----------------------------------------------------------------------------------------------
    def call(self, request: InterfaceRequest) -> ScpCall:
        raise NotImplementedError

    def plan_call(self, plan) -> ScpCall:
        """The call a plan would make, before any request exists (the preview)."""
        raise NotImplementedError

    def digest(self, request: InterfaceRequest) -> str:
        """A digest of exactly what will be sent: an approval binds to it."""
        call = self.call(request)
        data = {"action": self.name, "server_id": request.server_id, "api_version": request.api_version, **vars(call)}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

    # --- execution ----------------------------------------------------------------------------------------------
    def revalidate(self, *, client: ScpClient, request: InterfaceRequest):
        """The same checks again just before sending (the plan carries the server's interfaces as they are)."""
        raise NotImplementedError

    def intent_payload(self, plan) -> dict[str, Any]:
        """What the write-ahead event keeps beside the exact call."""
        return {}

    def send(
        self, *, client: ScpClient, request: InterfaceRequest, plan, answered: Callable[[], None]
    ) -> Settlement | None:
        """Make the write once. A settlement when it has settled already, None when it must be looked at later.
        Call `answered()` the moment SCP has answered (what the write made is known): the server may take its
        next write while this one settles. SCP's exceptions propagate: the services decide (retry when nothing
        was sent, reconcile a lost answer)."""
        raise NotImplementedError

    def refusal_reason(self, request: InterfaceRequest, error: ScpHttpError) -> str:
        """What the requester reads when SCP refused the write."""
        return scp_refusal(error)

    def look(self, *, client: ScpClient, request: InterfaceRequest, over: bool) -> Settlement | None:
        """One look after sending: a settlement once settled (or once the settle time is `over`), else None."""
        raise NotImplementedError

    def wait(self, *, client: ScpClient, request: InterfaceRequest) -> Settlement:
        """Look until settled or the settle time is over, in place (when no task can look later)."""
        raise NotImplementedError

    def reconcile(
        self, *, client: ScpClient, request: InterfaceRequest, interfaces: list[schemas.InterfaceResponse]
    ) -> Settlement | Undecided | None:
        """Settle a lost answer from the server's interfaces, never sending again; None if settled meanwhile."""
        raise NotImplementedError

    def look_late(
        self, *, client: ScpClient, request: InterfaceRequest, interfaces: list[schemas.InterfaceResponse]
    ) -> Settlement | Undecided | None:
        """A write found not applied: has SCP applied it late after all? None: not (yet)."""
        return None

    def guest_source(self, request: InterfaceRequest) -> InterfaceRequest | None:
        """The attach whose interface the guest-side snippets are about (None: the operation has none)."""
        return None

    # --- words ----------------------------------------------------------------------------------------------------
    def describe(self, request: InterfaceRequest) -> str:
        """What the request asks, as a phrase for mails ("attach an interface to web-01")."""
        raise NotImplementedError


def scp_refusal(error: ScpHttpError) -> str:
    """SCP's refusal of a write, in words (shared by the operations)."""
    if isinstance(error, ScpBadRequest):
        return _("SCP refused the request as invalid: %(detail)s") % {"detail": error.detail}
    if isinstance(error, ScpConflict):
        return _("SCP reported a conflict and attached nothing: %(detail)s") % {"detail": error.detail}
    if error.status in (401, 403):
        return _("SCP refused the portal's credentials (%(status)s); an administrator must check them.") % {
            "status": error.status
        }
    return _("SCP answered %(status)s: %(detail)s") % {"status": error.status, "detail": error.detail}


def not_applied(request: InterfaceRequest, reason: str, *, found: bool) -> Settlement:
    """The write was not applied. One that was sent may still be applied late by SCP: it is watched a while."""
    hours = settings.CONFIG.late_apply_watch_hours
    watch: dict[str, Any] = {}
    if request.ports_before is not None and hours:  # sent, and watching wanted
        now = timezone.now()
        watch = {
            "watch_until": now + dt.timedelta(hours=hours),
            "watch_next_at": now + dt.timedelta(seconds=LATE_LOOK_FIRST_SECONDS),
        }
    payload: dict[str, Any] = {"found": found}
    if watch:
        payload["watched_until"] = watch["watch_until"].isoformat()
    return Settlement("not_applied", reason, payload, watch)
