"""Live validation of an attach against SCP: used at preview, at submission and again at execution."""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, NoReturn

from django.utils.translation import gettext as _
from pydantic import BaseModel

from portal.core.scp import flush_records
from portal.scp import schemas
from portal.scp.client import CallRecord, ScpClient
from portal.scp.errors import ScpError, ScpNotFound

from .errors import AttachRejected, ScpUnavailable
from .models import Mode
from .rules import address_problem, repeated, server_unavailable_reason


class _Facts:
    """A plan as JSON and back: what SCP said at a check, carried to the next step (services.checks)."""

    MODELS: ClassVar[dict[str, type[BaseModel]]] = {}

    def facts(self) -> dict[str, Any]:
        def plain(value):
            if isinstance(value, BaseModel):
                return value.model_dump(mode="json", exclude_none=True)
            return [plain(v) for v in value] if isinstance(value, list) else value

        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_facts(cls, facts: dict[str, Any]):
        """The plan again; ValueError (pydantic's ValidationError among them) for facts that do not make one."""
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        if not isinstance(facts, dict) or not set(facts) <= names:
            raise ValueError("not the facts of this plan")
        values: dict[str, Any] = {}
        for name, value in facts.items():
            model = cls.MODELS.get(name)
            if model is None or value is None:
                values[name] = value
            elif isinstance(value, list):
                values[name] = [model.model_validate(v) for v in value]
            else:
                values[name] = model.model_validate(value)
        return cls(**values)


@dataclass
class AttachPlan(_Facts):
    server: schemas.Server
    mode: str
    subnet: schemas.Subnet | None = None
    port: schemas.Port | None = None
    fixed_ips: list[str] = field(default_factory=list)
    interfaces: list[schemas.InterfaceResponse] | None = None
    action: str = "attach"  # the operation (what policies and the preview see)

    MODELS = {
        "server": schemas.Server,
        "subnet": schemas.Subnet,
        "port": schemas.Port,
        "interfaces": schemas.InterfaceResponse,
    }


def gather(client: ScpClient, calls: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Run independent GETs side by side; a failed call's exception stands in for its result.

    The client's observer runs afterwards, in this thread, so that audit writes stay on this thread's
    database connection.
    """
    results: dict[str, Any] = {}
    if len(calls) == 1:  # nothing to overlap: no thread
        name, call = next(iter(calls.items()))
        try:
            results[name] = call()
        except Exception as error:  # the caller inspects it, as it does the threaded calls' errors
            results[name] = error
        return results
    records: list[CallRecord] = []
    observer, client.observer = client.observer, records.append
    try:
        with ThreadPoolExecutor(max_workers=min(8, len(calls))) as pool:
            futures = {name: pool.submit(call) for name, call in calls.items()}
        for name, future in futures.items():
            failure = future.exception()
            results[name] = failure if failure is not None else future.result()
    finally:
        client.observer = observer
    flush_records(observer, records)
    return results


def _raise_unavailable(error: ScpError) -> NoReturn:
    raise ScpUnavailable(
        _("SCP could not be asked to check this request right now; nothing was sent. Try again in a moment.")
    ) from error


def validate_attach(
    *,
    client: ScpClient,
    server_id: str,
    mode: str,
    subnet_id: str = "",
    port_id: str = "",
    fixed_ips: list[str] | None = None,
    with_interfaces: bool = False,
    owner_check: Callable[[schemas.Server | None], None] | None = None,
    held: Callable[[str, str], str | None] | None = None,
) -> AttachPlan:
    """Check everything SCP would check, and that the addresses are free. Raise AttachRejected with reasons.

    `owner_check` sees the server first (None when SCP does not know it) and raises when the caller may not
    have it, before anything about the server is told.
    """
    fixed_ips = fixed_ips or []
    calls: dict[str, Callable[[], Any]] = {"server": lambda: client.get_server(server_id)}
    if mode == Mode.SUBNET and subnet_id:
        calls["subnet"] = lambda: client.get_subnet(subnet_id)
    elif mode == Mode.PORT and port_id:
        calls["port"] = lambda: client.get_port(port_id)
    if with_interfaces:
        calls["interfaces"] = lambda: client.list_server_interfaces(server_id)
    results = gather(client, calls)

    errors: dict[str, list[str]] = {}
    server = results["server"]
    if owner_check is not None and not (isinstance(server, ScpError) and not isinstance(server, ScpNotFound)):
        owner_check(None if isinstance(server, ScpNotFound) else server)
    if isinstance(server, ScpNotFound):
        raise AttachRejected({"__all__": [_("The server %(id)s no longer exists.") % {"id": server_id}]})
    if isinstance(server, ScpError):
        _raise_unavailable(server)
    reason = server_unavailable_reason(state=server.state, locked=server.locked)
    if reason:
        errors["__all__"] = [reason]
    plan = AttachPlan(server=server, mode=mode, fixed_ips=list(fixed_ips))
    if with_interfaces:
        interfaces = results["interfaces"]
        if isinstance(interfaces, ScpError):
            _raise_unavailable(interfaces)
        plan.interfaces = interfaces

    if mode == Mode.SUBNET:
        plan.subnet = _subnet_checked(client, results.get("subnet"), subnet_id, server, fixed_ips, errors, held)
    elif mode == Mode.PORT:
        plan.port = _port_checked(results.get("port"), port_id, server, fixed_ips, errors)
    else:
        errors["mode"] = [_("Choose how to attach: a new port on a subnet, or an existing port.")]
    if errors:
        raise AttachRejected(errors)
    return plan


def _subnet_checked(client, subnet: Any, subnet_id: str, server, fixed_ips, errors, held) -> schemas.Subnet | None:
    """The subnet if a new port can be made on it for this server (its fixed IPs checked too); else None."""
    if not subnet_id or isinstance(subnet, ScpNotFound):
        errors["subnet_id"] = [_("Choose a subnet.") if not subnet_id else _("That subnet does not exist (any more).")]
        return None
    if isinstance(subnet, ScpError):
        _raise_unavailable(subnet)
    if subnet.vpc_id != server.vpc_id:
        errors["subnet_id"] = [_("The subnet %(name)s is not in this server's VPC.") % {"name": subnet.name}]
        return None
    _check_addresses(client, subnet, fixed_ips, errors, held)
    return subnet


def _port_checked(port: Any, port_id: str, server, fixed_ips, errors) -> schemas.Port | None:
    """The port if it can be attached to this server; else None, with the reason in `errors`."""
    if fixed_ips:
        errors["fixed_ips"] = [_("Fixed IPs can only be given for a new port on a subnet.")]
    if not port_id or isinstance(port, ScpNotFound):
        errors["port_id"] = [
            _("Choose a port.") if not port_id else _("That port cannot be attached here: it does not exist.")
        ]
        return None
    if isinstance(port, ScpError):
        _raise_unavailable(port)
    if port.vpc_id != server.vpc_id:
        errors["port_id"] = [
            _("The port %(name)s cannot be attached here: it is in another VPC than the server.") % {"name": port.name}
        ]
        return None
    if port.is_attached:
        errors["port_id"] = [
            _("The port %(name)s cannot be attached here: it is already attached to a server.") % {"name": port.name}
        ]
        return None
    return port


def _check_addresses(client: ScpClient, subnet: schemas.Subnet, fixed_ips: list[str], errors: dict, held=None) -> None:
    seen: set[str] = set()
    to_ask: dict[str, Callable[[], Any]] = {}
    for index, address in enumerate(fixed_ips):
        problem = address_problem(address, cidr=subnet.cidr, gateway=subnet.gateway_ip_address)
        if problem is None and address in seen:
            problem = repeated(address)
        if problem is None and held is not None:
            problem = held(subnet.id, address)
        seen.add(address)
        if problem:
            errors.setdefault(f"fixed_ip_{index}", []).append(problem)
        else:
            to_ask[f"fixed_ip_{index}"] = functools.partial(
                client.check_ip_availability, subnet_id=subnet.id, ip_address=address
            )
    if not to_ask:
        return
    for key, answer in gather(client, to_ask).items():
        if isinstance(answer, ScpError):
            _raise_unavailable(answer)
        if not answer.available:
            address = fixed_ips[int(key.rsplit("_", 1)[1])]
            errors.setdefault(key, []).append(
                _("%(address)s is already in use in %(cidr)s.") % {"address": address, "cidr": subnet.cidr}
            )


@dataclass
class DetachPlan(_Facts):
    """A detach that can be made now: the server, the interface, and its subnet (for the record)."""

    server: schemas.Server
    interface: schemas.InterfaceResponse
    interfaces: list[schemas.InterfaceResponse]
    action: str = "detach"
    mode: str = Mode.PORT  # what policies see: a detach has no subnet mode and no fixed IPs
    fixed_ips: list[str] = field(default_factory=list)

    MODELS = {"server": schemas.Server, "interface": schemas.InterfaceResponse, "interfaces": schemas.InterfaceResponse}


def detach_problem(interface: schemas.InterfaceResponse, *, busy_with: int | None) -> str | None:
    """Why this interface cannot be detached now, in words a requester can act on; None when it can."""
    if interface.is_default:
        return _("This is the server's default interface; it cannot be detached.")
    if (interface.port_state or "").upper() == "DELETING":
        return _("This interface is already being detached.")
    if busy_with is not None:
        return _("Request %(pk)s is already changing this interface; wait until it has ended.") % {"pk": busy_with}
    return None


def validate_detach(
    *,
    client: ScpClient,
    server_id: str,
    port_id: str,
    busy_with: Callable[[str], int | None],
    owner_check: Callable[[schemas.Server | None], None] | None = None,
) -> DetachPlan:
    """Check that `port_id` is a detachable interface of the server now; AttachRejected with reasons if not."""
    results = gather(
        client,
        {
            "server": lambda: client.get_server(server_id),
            "interfaces": lambda: client.list_server_interfaces(server_id),
        },
    )
    server = results["server"]
    if owner_check is not None and not (isinstance(server, ScpError) and not isinstance(server, ScpNotFound)):
        owner_check(None if isinstance(server, ScpNotFound) else server)
    if isinstance(server, ScpNotFound):
        raise AttachRejected({"__all__": [_("The server %(id)s no longer exists.") % {"id": server_id}]})
    for value in (server, results["interfaces"]):
        if isinstance(value, ScpError):
            _raise_unavailable(value)
    interfaces = results["interfaces"]
    errors: dict[str, list[str]] = {}
    reason = server_unavailable_reason(state=server.state, locked=server.locked, detach=True)
    if reason:
        errors["__all__"] = [reason]
    interface = next((i for i in interfaces if i.port_id == port_id), None)
    if interface is None:
        errors["port_id"] = [_("That interface is not attached to this server (any more).")]
    else:
        problem = detach_problem(interface, busy_with=busy_with(port_id))
        if problem:
            errors["port_id"] = [problem]
    if errors or interface is None:
        raise AttachRejected(errors)
    return DetachPlan(server=server, interface=interface, interfaces=interfaces)
