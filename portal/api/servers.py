"""Servers the caller's teams own, what can be attached to them, and the fixed-IP check."""

from __future__ import annotations

from ninja import Query, Router
from ninja.errors import HttpError

from portal.interfaces import selectors
from portal.interfaces.views import MARKER_RE
from portal.scp.errors import ScpBadRequest

from . import presenters
from .auth import require_scope
from .models import Scope
from .schemas import SERVER_STATES, IpCheckOut, PortOut, ServerDetailOut, ServerPageOut, SubnetOut

router = Router(tags=["servers"])


@router.get("/servers", response=ServerPageOut, summary="List servers")
def server_list(
    request,
    q: str = Query("", max_length=100, description="Part of the server's name."),
    state: SERVER_STATES | None = Query(None, description="Only servers in this state."),
    marker: str = Query("", pattern=MARKER_RE.pattern, description="The `next_marker` of the page before."),
):
    """One page (20) of the servers your teams own, newest first. Scope: `read`."""
    require_scope(request, Scope.READ)
    try:
        page = selectors.server_list(user=request.user, name=q.strip(), state=state or "", marker=marker)
    except ScpBadRequest:
        if not marker:
            raise
        raise HttpError(422, "SCP no longer knows this marker; start again from the first page.") from None
    return {"items": [presenters.server_out(s) for s in page.servers], "next_marker": page.next_marker}


@router.get("/servers/{server_id}", response=ServerDetailOut, summary="One server with its interfaces")
def server_detail(request, server_id: str):
    """The server (if your teams own it), its interfaces, and why it cannot take one now. Scope: `read`."""
    require_scope(request, Scope.READ)
    detail = selectors.server_detail(user=request.user, server_id=server_id)
    return {
        "server": presenters.server_out(detail.server),
        "interfaces": [presenters.interface_out(i) for i in detail.interfaces],
        "unavailable_reason": detail.unavailable_reason,
    }


@router.get("/servers/{server_id}/subnets", response=list[SubnetOut], summary="Subnets a new port can go on")
def server_subnets(request, server_id: str):
    """The subnets of the server's VPC, for a server your teams may request on. Scope: `read`."""
    require_scope(request, Scope.READ)
    options = selectors.attach_options(user=request.user, server_id=server_id)
    return [presenters.subnet_out(s) for s in options.subnets]


@router.get("/servers/{server_id}/ports", response=list[PortOut], summary="Unattached ports it can take")
def server_ports(request, server_id: str):
    """The unattached ports of the server's VPC, for a server your teams may request on. Scope: `read`."""
    require_scope(request, Scope.READ)
    options = selectors.attach_options(user=request.user, server_id=server_id)
    return [presenters.port_out(p) for p in options.ports]


@router.get("/servers/{server_id}/ip-check", response=IpCheckOut, summary="Check a fixed IP")
def ip_check(
    request,
    server_id: str,
    subnet_id: str = Query(..., min_length=1, max_length=64),
    address: str = Query(..., min_length=1, max_length=100),
):
    """Whether `address` is valid in the subnet and free now (checked again at submission). Scope: `read`."""
    require_scope(request, Scope.READ)
    address = address.strip()
    message, ok = selectors.fixed_ip_check(user=request.user, server_id=server_id, subnet_id=subnet_id, address=address)
    return {"address": address, "ok": ok, "message": message}
