"""Reads: servers, subnets and ports from SCP (through the audited client), requests from the database."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import models
from django.utils.translation import gettext as _

from portal.core.scp import scp_client
from portal.scp import schemas
from portal.scp.client import ScpClient, ServerPage
from portal.scp.errors import ScpError, ScpNotFound
from portal.teams.selectors import server_scope_for

from .access import Purpose, audience_allows, ensure_owned, interface_request_for, server_for
from .guest import guest_config
from .listing import scoped_server_page
from .models import Action, FixedIpHold, InterfaceRequest, Mode, Status
from .rules import address_problem, canonical_address, server_unavailable_reason
from .validation import detach_problem, gather

SERVER_STATES = ("ACTIVE", "SHUTOFF", "ERROR", "BUILD", "REBOOT", "DELETED")
SERVER_PAGE_SIZE = 20


def server_list(
    *, user, name: str = "", state: str = "", marker: str = "", client: ScpClient | None = None
) -> ServerPage:
    """One page of the servers the user's teams own, newest first, searchable by name and state."""
    return scoped_server_page(
        client or scp_client(),
        server_scope_for(user),
        name=name,
        state=state,
        marker=marker,
        page_size=SERVER_PAGE_SIZE,
    )


@dataclass
class ServerDetail:
    server: schemas.Server
    interfaces: list[schemas.InterfaceResponse]
    subnet_names: dict[str, str]
    unavailable_reason: str | None
    detach_blocked: dict[str, str | None] = field(default_factory=dict)  # port id → why it cannot be detached


def subnet_label(*, subnet_id: str, client: ScpClient | None = None) -> str:
    """A subnet in words ("prod-app (192.168.10.0/24)"); "" when there is none or SCP cannot say now."""
    if not subnet_id:
        return ""
    try:
        subnet = (client or scp_client()).get_subnet(subnet_id)
    except ScpError:
        return ""
    return f"{subnet.name} ({subnet.cidr})"


def server_detail(*, user, server_id: str, client: ScpClient | None = None) -> ServerDetail:
    """The server (if the user's teams own it), its interfaces, and why it cannot take an interface."""
    client = client or scp_client()
    results = gather(
        client,
        {
            "server": lambda: client.get_server(server_id),
            "interfaces": lambda: client.list_server_interfaces(server_id),
        },
    )
    server = results["server"]
    if isinstance(server, ScpError) and not isinstance(server, ScpNotFound):
        raise server
    server = ensure_owned(user=user, server_id=server_id, server=None if isinstance(server, ScpNotFound) else server)
    if isinstance(results["interfaces"], Exception):
        raise results["interfaces"]
    subnet_names = (
        {s.id: f"{s.name} ({s.cidr})" for s in client.iter_subnets(vpc_id=server.vpc_id)} if server.vpc_id else {}
    )
    unavailable = server_unavailable_reason(state=server.state, locked=server.locked)
    return ServerDetail(
        server=server,
        interfaces=results["interfaces"],
        subnet_names=subnet_names,
        unavailable_reason=unavailable,
        detach_blocked={
            i.port_id: detach_problem(i, busy_with=interface_busy_with(server_id=server.id, port_id=i.port_id))
            for i in results["interfaces"]
        },
    )


@dataclass
class AttachOptions:
    server: schemas.Server
    subnets: list[schemas.Subnet]
    ports: list[schemas.Port]
    unavailable_reason: str | None


def attach_options(*, user, server_id: str, client: ScpClient | None = None) -> AttachOptions:
    """What the form may offer: subnets of the server's VPC, and its unattached ports (for an owned server)."""
    client = client or scp_client()
    server = server_for(user=user, server_id=server_id, to_request=True, client=client)
    vpc_id = server.vpc_id or ""
    results = gather(
        client,
        {
            "subnets": lambda: list(client.iter_subnets(vpc_id=vpc_id)),
            "ports": lambda: list(client.iter_ports(attached_resource_types="UNATTACHED")),
        },
    )
    for value in results.values():
        if isinstance(value, Exception):
            raise value
    subnets = [s for s in results["subnets"] if s.vpc_id == vpc_id]
    ports = [p for p in results["ports"] if p.vpc_id == vpc_id and not p.is_attached]
    return AttachOptions(
        server=server,
        subnets=subnets,
        ports=ports,
        unavailable_reason=server_unavailable_reason(state=server.state, locked=server.locked),
    )


def requests_of(*, user):
    return InterfaceRequest.objects.filter(requester=user).order_by("-created_at", "-id")


def request_by_idempotency_key(*, user, key) -> InterfaceRequest | None:
    return InterfaceRequest.objects.filter(requester=user, idempotency_key=key).first()


def resubmission_initial(*, user, request_id: str) -> dict:
    """A new form's starting values copied from one of the user's own earlier requests (\"submit again\")."""
    if not request_id:
        return {}
    earlier = interface_request_for(user=user, pk=request_id, purpose=Purpose.RESUBMIT)
    return {
        "mode": earlier.mode,
        "subnet_id": earlier.subnet_id,
        "port_id": earlier.port_id,
        "fixed_ips": list(earlier.fixed_ips),
        "justification": earlier.justification,
    }


def fixed_ip_check(
    *, user, server_id: str, subnet_id: str, address: str, client: ScpClient | None = None
) -> tuple[str, bool]:
    """(message, ok) for one proposed fixed IP on a subnet of a server the user may request on."""
    client = client or scp_client()
    results = gather(
        client, {"server": lambda: client.get_server(server_id), "subnet": lambda: client.get_subnet(subnet_id)}
    )
    server, subnet = results["server"], results["subnet"]
    if isinstance(server, ScpError) and not isinstance(server, ScpNotFound):
        raise server
    server = ensure_owned(
        user=user, server_id=server_id, server=None if isinstance(server, ScpNotFound) else server, to_request=True
    )
    if isinstance(subnet, ScpNotFound) or (not isinstance(subnet, Exception) and subnet.vpc_id != server.vpc_id):
        return _("Choose a subnet of this server's VPC first."), False
    if isinstance(subnet, Exception):
        raise subnet
    problem = address_problem(address, cidr=subnet.cidr, gateway=subnet.gateway_ip_address)
    problem = problem or hold_problem(subnet_id=subnet.id, address=address, viewer=user)
    if problem:
        return problem, False
    answer = client.check_ip_availability(subnet_id=subnet.id, ip_address=address)
    if not answer.available:
        return _("%(address)s is already in use in %(cidr)s.") % {"address": address, "cidr": subnet.cidr}, False
    return _("%(address)s is free.") % {"address": address}, True


OPEN = (Status.PENDING_APPROVAL, Status.APPROVED, Status.EXECUTING, Status.UNKNOWN)


def interface_busy_with(*, server_id: str, port_id: str, exclude_pk: int | None = None) -> int | None:
    """The open request already changing this interface (detaching it, or attaching it), if any."""
    changing = models.Q(action=Action.DETACH, port_id=port_id) | models.Q(result_port_id=port_id)
    changing |= models.Q(action=Action.ATTACH, mode=Mode.PORT, port_id=port_id)
    busy = InterfaceRequest.objects.filter(server_id=server_id, status__in=OPEN).filter(changing)
    if exclude_pk is not None:
        busy = busy.exclude(pk=exclude_pk)
    return busy.order_by("pk").values_list("pk", flat=True).first()


def hold_problem(*, subnet_id: str, address: str, exclude_pk: int | None = None, viewer=None) -> str | None:
    """Why `address` cannot be asked for on the subnet: another open request holds it (named, with its state,
    when `viewer` may see that request; otherwise only that one does: its number is none of theirs)."""
    holds = FixedIpHold.objects.filter(subnet_id=subnet_id, address=canonical_address(address)).select_related(
        "request"
    )
    if exclude_pk is not None:
        holds = holds.exclude(request_id=exclude_pk)
    hold = holds.first()
    if hold is None:
        return None
    if viewer is not None and not audience_allows(viewer, hold.request, Purpose.VIEW):
        return _("%(address)s is held by another open request until that request ends.") % {"address": hold.address}
    state = hold.request.get_status_display().lower()
    return _("%(address)s is held by request %(pk)s (%(state)s) until that request ends.") % {
        "address": hold.address,
        "pk": hold.request_id,
        "state": state,
    }


def ip_conflicts(request: InterfaceRequest) -> list[str]:
    """Other open requests asking for one of this request's fixed IPs on its subnet, in words (for approvers).

    Holds make this empty for requests submitted since they exist; it shows what a reviewer must know otherwise.
    """
    mine = {canonical_address(a) for a in request.fixed_ips or []}
    if not mine:
        return []
    others = InterfaceRequest.objects.filter(subnet_id=request.subnet_id, status__in=OPEN, action=Action.ATTACH)
    found = []
    for other in others.exclude(pk=request.pk).order_by("pk"):
        for address in sorted(mine & {canonical_address(a) for a in other.fixed_ips or []}):
            found.append(
                _("%(address)s is also asked for by request %(pk)s (%(state)s).")
                % {"address": address, "pk": other.pk, "state": other.get_status_display().lower()}
            )
    return found


def guest_setup(request: InterfaceRequest, client: ScpClient | None = None):
    """The guest-side snippets for a succeeded attach (from SCP's answer and the subnet), or for the detach
    of an interface the portal attached; None when there is nothing to configure."""

    if request.status != Status.SUCCEEDED:
        return None
    source = request.operation.guest_source(request)
    if source is None:
        return None
    result = source.result or {}
    try:
        interface = schemas.InterfaceResponse.model_validate(result)
    except ValueError:
        return None
    subnet_id = interface.subnet_id or source.subnet_id
    if not interface.mac_addr or not interface.addresses or not subnet_id:
        return None
    if subnet_id == source.subnet_id and source.subnet_cidr and source.subnet_gateway:
        cidr, gateway = source.subnet_cidr, source.subnet_gateway  # as recorded at submission
    else:
        try:
            subnet = (client or scp_client()).get_subnet(subnet_id)
        except ScpError:
            return None
        cidr, gateway = subnet.cidr, subnet.gateway_ip_address or ""
    try:
        return guest_config(
            port_id=interface.port_id, mac=interface.mac_addr, addresses=interface.addresses, cidr=cidr, gateway=gateway
        )
    except ValueError:  # SCP's CIDR or an address is not what it should be: no snippet rather than a wrong one
        return None


def attach_that_made(*, server_id: str, port_id: str) -> InterfaceRequest | None:
    """The portal's succeeded attach that put this port on this server, if the portal did."""
    return (
        InterfaceRequest.objects.filter(
            server_id=server_id, action=Action.ATTACH, result_port_id=port_id, status=Status.SUCCEEDED
        )
        .order_by("-pk")
        .first()
    )
