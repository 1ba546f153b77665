"""The one access rule for requests and servers. Every view, fragment and export that takes a request id or a
server id asks here; outside the caller's audience the answer is "not found", and the refusal is audited."""

from __future__ import annotations

from enum import StrEnum

from django.utils.translation import gettext as _

from portal.audit.events import AuditAction
from portal.audit.models import Outcome
from portal.audit.services import record_event
from portal.core.errors import NotFound
from portal.core.scp import scp_client
from portal.scp import schemas
from portal.scp.client import ScpClient
from portal.scp.errors import ScpNotFound
from portal.teams.selectors import access_for, server_scope_for

from .errors import NotAllowed
from .models import InterfaceRequest

MAX_PK = 2**63 - 1


class Purpose(StrEnum):
    VIEW = "view"  # the request page and its fragments
    CANCEL = "cancel"  # the requester withdraws it
    DECIDE = "decide"  # an approver's decision
    RESUBMIT = "resubmit"  # copy its parameters into a new form


def deny(
    *, user, action: AuditAction, reason: str, request: InterfaceRequest | None = None, target: str = ""
) -> NotAllowed:
    """Audit a refusal and return the error to raise."""
    record_event(
        action=action,
        outcome=Outcome.DENIED,
        payload={"reason": reason},
        interface_request_id=request.pk if request else None,
        target=target or (request.server_id if request else ""),
        actor=user,
    )
    return NotAllowed(reason)


def audience_allows(user, request: InterfaceRequest, purpose: Purpose) -> bool:
    """Whether `user` is in the audience of `request` for `purpose`."""
    if not user.is_authenticated or not user.is_active:
        return False
    is_requester = request.requester_id == user.pk
    access = access_for(user)
    approves = request.team_id is not None and request.team_id in access.approver_team_ids
    audits = access.global_auditor or (request.team_id is not None and request.team_id in access.auditor_team_ids)
    match purpose:
        case Purpose.VIEW:
            return is_requester or approves or audits
        case Purpose.CANCEL | Purpose.RESUBMIT:
            return is_requester
        case Purpose.DECIDE:
            return approves or is_requester  # the requester is refused by the decision rules, with the reason
    return False


def interface_request_for(*, user, pk, purpose: Purpose) -> InterfaceRequest:
    """The request `pk` if `user` may have it for `purpose`; otherwise NotFound, with the refusal audited."""
    request = None
    if isinstance(pk, int) and 0 < pk <= MAX_PK:
        request = InterfaceRequest.objects.select_related("requester", "decided_by", "team").filter(pk=pk).first()
    elif isinstance(pk, str) and pk.isdigit() and 0 < int(pk) <= MAX_PK:
        return interface_request_for(user=user, pk=int(pk), purpose=purpose)
    if request is not None and audience_allows(user, request, purpose):
        return request
    record_event(
        action=AuditAction.REQUEST_ACCESS,
        outcome=Outcome.DENIED,
        payload={"purpose": str(purpose), "reason": "no such request" if request is None else "outside its audience"},
        interface_request_id=request.pk if request else None,
        target=str(pk)[:64],
        actor=user,
    )
    raise NotFound(_("No such request."))


def server_for(*, user, server_id: str, to_request: bool = False, client: ScpClient | None = None) -> schemas.Server:
    """The server if one of `user`'s teams owns it (as a requester's team when `to_request`); else NotFound.

    SCP errors other than "not found" propagate: the caller says that SCP is down.
    """
    server = None
    if not server_scope_for(user, to_request=to_request).combined.empty:
        try:
            server = (client or scp_client()).get_server(server_id)
        except ScpNotFound:
            server = None
    return ensure_owned(user=user, server_id=server_id, server=server, to_request=to_request)


def ensure_owned(*, user, server_id: str, server: schemas.Server | None, to_request: bool = False) -> schemas.Server:
    """`server` (as fetched for `server_id`, None when SCP does not know it) if `user`'s teams own it."""
    if server is not None and server_scope_for(user, to_request=to_request).owns(server):
        return server
    record_event(
        action=AuditAction.SERVER_ACCESS,
        outcome=Outcome.DENIED,
        payload={
            "purpose": "request" if to_request else "view",
            "reason": "no such server" if server is None else "not owned by your teams",
        },
        target=server_id[:128],
        actor=user,
    )
    raise NotFound(_("No such server."))
