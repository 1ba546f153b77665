"""Reads: servers, subnets and ports from SCP (through the audited client), requests from the database."""

from __future__ import annotations

from dataclasses import dataclass

from portal.core.scp import scp_client
from portal.scp import schemas
from portal.scp.client import ScpClient, ServerPage

from .models import InterfaceRequest
from .rules import server_unavailable_reason
from .validation import gather

SERVER_STATES = ("ACTIVE", "SHUTOFF", "ERROR", "BUILD", "REBOOT", "DELETED")
SERVER_PAGE_SIZE = 20


def server_list(*, name: str = "", state: str = "", marker: str = "", client: ScpClient | None = None) -> ServerPage:
    client = client or scp_client()
    return client.list_servers(name=name or None, state=state or None, marker=marker or None, limit=SERVER_PAGE_SIZE)


@dataclass
class ServerDetail:
    server: schemas.Server
    interfaces: list[schemas.InterfaceResponse]
    subnet_names: dict[str, str]
    unavailable_reason: str | None


def server_detail(*, server_id: str, client: ScpClient | None = None) -> ServerDetail:
    """The server, its interfaces, and why it cannot take an interface (None when it can)."""
    client = client or scp_client()
    results = gather(
        client,
        {
            "server": lambda: client.get_server(server_id),
            "interfaces": lambda: client.list_server_interfaces(server_id),
        },
    )
    for value in results.values():
        if isinstance(value, Exception):
            raise value
    server = results["server"]
    subnet_names = (
        {s.id: f"{s.name} ({s.cidr})" for s in client.iter_subnets(vpc_id=server.vpc_id)} if server.vpc_id else {}
    )
    return ServerDetail(
        server=server,
        interfaces=results["interfaces"],
        subnet_names=subnet_names,
        unavailable_reason=server_unavailable_reason(state=server.state, locked=server.locked),
    )


@dataclass
class AttachOptions:
    server: schemas.Server
    subnets: list[schemas.Subnet]
    ports: list[schemas.Port]
    unavailable_reason: str | None


def attach_options(*, server_id: str, client: ScpClient | None = None) -> AttachOptions:
    """What the form may offer: subnets of the server's VPC, and its unattached ports."""
    client = client or scp_client()
    server = client.get_server(server_id)
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


def resubmission_initial(*, user, request_id: str) -> dict:
    """A new form's starting values copied from one of the user's own earlier requests (\"submit again\")."""
    if not request_id.isdigit():
        return {}
    earlier = InterfaceRequest.objects.filter(pk=int(request_id), requester=user).first()
    if earlier is None:
        return {}
    return {
        "mode": earlier.mode,
        "subnet_id": earlier.subnet_id,
        "port_id": earlier.port_id,
        "fixed_ips": list(earlier.fixed_ips),
        "justification": earlier.justification,
    }


def request_for_viewer(*, user, request_id: int) -> InterfaceRequest | None:
    """The request if this user may see it: their own, or (approvers, auditors) any."""
    from portal.core.roles import is_approver, is_auditor

    request = InterfaceRequest.objects.select_related("requester", "decided_by").filter(pk=request_id).first()
    if request is None:
        return None
    if request.requester_id == user.pk or is_auditor(user) or is_approver(user):
        return request
    return None


def fixed_ip_check(*, subnet_id: str, address: str, client: ScpClient | None = None) -> tuple[str, bool]:
    """(message, ok) for one proposed fixed IP on a subnet."""
    from .rules import address_problem

    client = client or scp_client()
    subnet = client.get_subnet(subnet_id)
    problem = address_problem(address, cidr=subnet.cidr, gateway=subnet.gateway_ip_address)
    if problem:
        return problem, False
    answer = client.check_ip_availability(subnet_id=subnet.id, ip_address=address)
    if not answer.available:
        return f"{address} is already in use in {subnet.cidr}.", False
    return f"{address} is free.", True
