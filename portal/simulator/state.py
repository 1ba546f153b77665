"""The simulator's in-memory world: VPCs, subnets, servers and ports, and the rules of attaching.

Every public method takes the lock, so concurrent requests see a consistent world. Errors are raised as
`ApiError` with the status and code SCP would answer.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


@dataclass
class Vpc:
    id: str
    name: str


@dataclass
class Subnet:
    id: str
    name: str
    cidr: str
    vpc_id: str
    vpc_name: str
    type: str = "GENERAL"
    state: str = "ACTIVE"

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.cidr)

    @property
    def gateway(self) -> str:
        return str(self.network.network_address + 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "cidr": self.cidr,
            "type": self.type,
            "state": self.state,
            "vpc_id": self.vpc_id,
            "vpc_name": self.vpc_name,
            "gateway_ip_address": self.gateway,
        }


@dataclass
class Port:
    id: str
    name: str
    subnet_id: str
    vpc_id: str
    fixed_ips: list[str]
    mac_address: str
    attached_resource_id: str | None = None
    ready_at: float = 0.0
    created_by_attach: bool = False
    is_default: bool = False
    static_nat: dict[str, Any] | None = None
    private_static_nat: dict[str, Any] | None = None
    detaching: bool = False  # DELETE accepted: listed as DELETING until the settle time has passed
    error: bool = False  # set out of band (control endpoint): the port went to ERROR

    def settled(self, now: float) -> bool:
        return now >= self.ready_at

    def interface_state(self, now: float) -> str:
        if self.detaching:
            return "DELETING"
        if self.error:
            return "ERROR"
        return "ACTIVE" if self.settled(now) else "BUILD"

    def as_dict(self, now: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "subnet_id": self.subnet_id,
            "vpc_id": self.vpc_id,
            "fixed_ip_address": self.fixed_ips[0] if self.fixed_ips else None,
            "mac_address": self.mac_address,
            "attached_resource_id": self.attached_resource_id,
            "attached_resource_type": "VIRTUAL_SERVER" if self.attached_resource_id else None,
            "state": "DELETING" if self.detaching else ("ACTIVE" if self.settled(now) else "CREATING"),
        }

    def as_interface(self, now: float, *, with_default: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "fixed_ips": [{"ip_address": ip} for ip in self.fixed_ips],
            "mac_addr": self.mac_address,
            "port_id": self.id,
            "port_state": self.interface_state(now),
            "subnet_id": self.subnet_id,
        }
        if self.static_nat:
            body["static_nat"] = self.static_nat
        if self.private_static_nat:
            body["private_static_nat"] = self.private_static_nat
        if with_default:
            body["is_default"] = self.is_default
        return body


@dataclass
class Server:
    id: str
    name: str
    state: str
    vpc_id: str
    created_at: str
    locked: bool = False
    server_type: str = "s1v2m4"

    def as_dict(self, ports: list[Port]) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "vpc_id": self.vpc_id,
            "locked": self.locked,
            "server_type": {"id": self.server_type, "name": self.server_type},
            "addresses": [{"subnet_id": p.subnet_id, "ip_addresses": p.fixed_ips} for p in ports],
            "security_groups": [{"name": "default"}],
            "metadata": {},
            "created_at": self.created_at,
        }


@dataclass
class World:
    vpcs: dict[str, Vpc] = field(default_factory=dict)
    subnets: dict[str, Subnet] = field(default_factory=dict)
    servers: dict[str, Server] = field(default_factory=dict)
    ports: dict[str, Port] = field(default_factory=dict)


ATTACHABLE_STATES = ("ACTIVE", "SHUTOFF")


class SimulatorState:
    def __init__(self, *, seed: int = 1, servers: int = 12, settle_seconds: float = 1.0, clock=time.time) -> None:
        self._lock = threading.RLock()
        self._seed = seed
        self._server_count = servers
        self.settle_seconds = settle_seconds
        self._clock = clock
        self.reset()

    # --- building the demo world ------------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self._rng = random.Random(self._seed)
            self.generation = getattr(self, "generation", 0) + 1
            self.world = World()
            self._servers_version = 0
            self._sorted_cache: dict[str, Any] = {}
            self._build_demo()

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _hex(self) -> str:
        return uuid.UUID(int=self._rng.getrandbits(128), version=4).hex

    def _mac(self) -> str:
        return "fa:16:3e:" + ":".join(f"{self._rng.randrange(256):02x}" for _ in range(3))

    def _build_demo(self) -> None:
        w = self.world
        prod = Vpc(self._hex(), "vpc-prod")
        dev = Vpc(self._hex(), "vpc-dev")
        w.vpcs = {prod.id: prod, dev.id: dev}
        subnet_specs = [
            (prod, "prod-app", "192.168.10.0/24"),
            (prod, "prod-db", "192.168.20.0/24"),
            (dev, "dev-app", "10.10.0.0/24"),
            (dev, "dev-web", "10.20.0.0/24"),
        ]
        for vpc, name, cidr in subnet_specs:
            subnet = Subnet(self._hex(), name, cidr, vpc.id, vpc.name)
            w.subnets[subnet.id] = subnet
        subnets_of = {vpc.id: [s for s in w.subnets.values() if s.vpc_id == vpc.id] for vpc in (prod, dev)}
        bulk: dict[str, Subnet] = {}
        if self._server_count > 12:
            # Generated servers live on /16 subnets of their own, so the demo subnets keep their shape.
            for vpc, cidr in ((prod, "172.16.0.0/16"), (dev, "172.20.0.0/16")):
                subnet = Subnet(self._hex(), f"{vpc.name}-bulk", cidr, vpc.id, vpc.name)
                w.subnets[subnet.id] = subnet
                bulk[vpc.id] = subnet

        base_time = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
        for index in range(self._server_count):
            vpc = prod if index % 3 != 2 else dev
            if index < 12:
                name = f"{['web', 'app', 'dev'][index % 3]}-{index + 1:02d}"
                state = {5: "SHUTOFF", 9: "SHUTOFF", 7: "ERROR"}.get(index, "ACTIVE")
            else:
                name = f"node-{index + 1:05d}"
                state = ("ACTIVE", "ACTIVE", "ACTIVE", "SHUTOFF", "ERROR")[index % 5]
            created = (base_time + dt.timedelta(minutes=index)).isoformat().replace("+00:00", "Z")
            server = Server(self._uuid(), name, state, vpc.id, created, locked=(index == 3))
            w.servers[server.id] = server
            if index < 12:
                default_subnet = subnets_of[vpc.id][0]
                address = self._free_address(default_subnet)
            else:
                default_subnet = bulk[vpc.id]
                address = str(default_subnet.network.network_address + 2 + index)
            port = Port(
                self._uuid(),
                f"{name}-eth0",
                default_subnet.id,
                vpc.id,
                [address],
                self._mac(),
                attached_resource_id=server.id,
                is_default=True,
            )
            w.ports[port.id] = port
            if index == 0:
                port.static_nat = {
                    "external_ip_address": "182.197.61.81",
                    "id": self._hex(),
                    "publicip_id": self._hex(),
                    "state": "ACTIVE",
                }
        for vpc, count in ((prod, 3), (dev, 2)):
            for n in range(count):
                subnet = subnets_of[vpc.id][n % 2]
                port = Port(
                    self._uuid(),
                    f"{vpc.name}-spare-{n + 1}",
                    subnet.id,
                    vpc.id,
                    [self._free_address(subnet)],
                    self._mac(),
                )
                w.ports[port.id] = port

    # --- helpers ----------------------------------------------------------------------------------------

    def now(self) -> float:
        return self._clock()

    def _used_addresses(self, subnet_id: str) -> set[str]:
        self._reap()
        return {ip for p in self.world.ports.values() if p.subnet_id == subnet_id for ip in p.fixed_ips}

    def _free_address(self, subnet: Subnet) -> str:
        used = self._used_addresses(subnet.id) | {subnet.gateway}
        for host in subnet.network.hosts():
            if str(host) not in used:
                return str(host)
        raise ApiError(409, "VirtualServer.CreateInterface.NoFreeAddress", f"subnet {subnet.id} has no free address")

    def _address_problem(self, subnet: Subnet, raw: Any) -> str | None:
        """Why `raw` cannot be a fixed IP on `subnet` (syntax and range only), or None."""
        if not isinstance(raw, str):
            return f"ip_address must be a string, got {type(raw).__name__}"
        try:
            address = ipaddress.ip_address(raw)
        except ValueError:
            return f"{raw!r} is not a valid IP address"
        if address.version != 4:
            return f"{raw} is not an IPv4 address; subnet {subnet.cidr} is IPv4"
        net = subnet.network
        if address not in net:
            return f"{raw} is outside subnet {subnet.name} ({subnet.cidr})"
        if address == net.network_address:
            return f"{raw} is the network address of {subnet.cidr}"
        if address == net.broadcast_address:
            return f"{raw} is the broadcast address of {subnet.cidr}"
        if raw == subnet.gateway:
            return f"{raw} is the gateway address of {subnet.cidr}"
        return None

    def _server(self, server_id: str) -> Server:
        server = self.world.servers.get(server_id)
        if server is None:
            raise ApiError(404, "VirtualServer.Server.NotFound", f"server {server_id} not found")
        return server

    def _ports_of(self, server_id: str) -> list[Port]:
        self._reap()
        return [p for p in self.world.ports.values() if p.attached_resource_id == server_id]

    def _reap(self) -> None:
        """Finish the detaches whose time has come: a port the attach created is deleted, another is left
        unattached for reuse (as SCP, like Nova, treats ports it made and ports it was given)."""
        now = self.now()
        for port in [p for p in self.world.ports.values() if p.detaching and now >= p.ready_at]:
            port.detaching = False
            if port.created_by_attach:
                del self.world.ports[port.id]
            else:
                port.attached_resource_id = None

    # --- reads ------------------------------------------------------------------------------------------

    def _servers_sorted(self, key: str, descending: bool) -> list[Server]:
        """The servers in list order, kept between calls: a large world is not sorted again for every page."""
        cache_key = (key, descending, len(self.world.servers), self._servers_version)
        if self._sorted_cache.get("key") != cache_key:
            ordered = sorted(self.world.servers.values(), key=lambda s: (getattr(s, key), s.id), reverse=descending)
            self._sorted_cache = {
                "key": cache_key,
                "servers": ordered,
                "index": {s.id: i for i, s in enumerate(ordered)},
                "lower_names": [s.name.lower() for s in ordered],
            }
        return self._sorted_cache["servers"]

    def list_servers(self, *, name=None, ip=None, state=None, vpc_id=None, limit=20, marker=None, sort=None):
        with self._lock:
            key, _, direction = (sort or "created_at:desc").partition(":")
            if key not in ("created_at", "name"):
                raise ApiError(400, "VirtualServer.InvalidParameter", f"cannot sort by {key!r}")
            servers = self._servers_sorted(key, (direction or "desc") == "desc")
            ports_by_server: dict[str, list[Port]] = {}
            if ip:
                for port in self.world.ports.values():
                    if port.attached_resource_id:
                        ports_by_server.setdefault(port.attached_resource_id, []).append(port)

            def passes(server: Server) -> bool:
                return (
                    (not name or name.lower() in server.name.lower())
                    and (not state or server.state == state.upper())
                    and (not vpc_id or server.vpc_id == vpc_id)
                    and (not ip or any(ip in p.fixed_ips for p in ports_by_server.get(server.id, [])))
                )

            start = 0
            if marker:
                position = self._sorted_cache["index"].get(marker)
                if position is None or not passes(servers[position]):
                    raise ApiError(400, "VirtualServer.InvalidParameter", f"marker {marker} not found")
                start = position + 1
            page = []
            # A name filter is matched against the names kept in lower case, so a search of a large world does
            # not cost a Python call per server (a real API would use an index).
            lower = self._sorted_cache["lower_names"]
            needle = name.lower() if name else ""
            positions = (
                [i for i in range(start, len(servers)) if needle in lower[i]] if needle else range(start, len(servers))
            )
            for position in positions:
                server = servers[position]
                if passes(server):
                    page.append(server)
                    if len(page) >= limit:
                        break
            wanted = {s.id for s in page}
            if not ip:
                for port in self.world.ports.values():
                    if port.attached_resource_id in wanted:
                        ports_by_server.setdefault(port.attached_resource_id, []).append(port)
            return [s.as_dict(ports_by_server.get(s.id, [])) for s in page]

    def get_server(self, server_id: str) -> dict[str, Any]:
        with self._lock:
            server = self._server(server_id)
            return server.as_dict(self._ports_of(server.id))

    def list_interfaces(self, server_id: str, *, with_default: bool) -> list[dict[str, Any]]:
        with self._lock:
            self._server(server_id)
            now = self.now()
            return [p.as_interface(now, with_default=with_default) for p in self._ports_of(server_id)]

    def get_interface(self, server_id: str, port_id: str, *, with_default: bool) -> dict[str, Any]:
        with self._lock:
            self._reap()
            self._server(server_id)
            port = self.world.ports.get(port_id)
            if port is None or port.attached_resource_id != server_id:
                raise ApiError(404, "VirtualServer.Interface.NotFound", f"interface {port_id} not found")
            return port.as_interface(self.now(), with_default=with_default)

    def list_subnets(self, *, vpc_id=None, name=None, cidr=None, state=None, type=None, page=0, size=20, sort=None):
        with self._lock:
            subnets = sorted(self.world.subnets.values(), key=lambda s: (s.name, s.id))
            for attr, wanted in (("vpc_id", vpc_id), ("cidr", cidr), ("state", state), ("type", type)):
                if wanted:
                    subnets = [s for s in subnets if getattr(s, attr) == wanted]
            if name:
                subnets = [s for s in subnets if name.lower() in s.name.lower()]
            return [s.as_dict() for s in subnets[page * size : (page + 1) * size]], len(subnets)

    def get_subnet(self, subnet_id: str) -> dict[str, Any]:
        with self._lock:
            subnet = self.world.subnets.get(subnet_id)
            if subnet is None:
                raise ApiError(404, "Vpc.Subnet.NotFound", f"subnet {subnet_id} not found")
            return subnet.as_dict()

    def list_ports(
        self,
        *,
        subnet_id=None,
        attached_resource_id=None,
        attached_resource_types=None,
        fixed_ip_address=None,
        state=None,
        limit=20,
        marker=None,
    ):
        with self._lock:
            self._reap()
            now = self.now()
            ports = sorted(self.world.ports.values(), key=lambda p: p.id)
            if subnet_id:
                ports = [p for p in ports if p.subnet_id == subnet_id]
            if attached_resource_id:
                ports = [p for p in ports if p.attached_resource_id == attached_resource_id]
            if attached_resource_types:
                kinds = {k.strip().upper() for k in attached_resource_types.split(",")}
                ports = [
                    p
                    for p in ports
                    if ("UNATTACHED" in kinds and not p.attached_resource_id)
                    or ("VIRTUAL_SERVER" in kinds and p.attached_resource_id)
                ]
            if fixed_ip_address:
                ports = [p for p in ports if fixed_ip_address in p.fixed_ips]
            if state:
                ports = [p for p in ports if p.as_dict(now)["state"] == state.upper()]
            total = len(ports)
            if marker:
                ports = [p for p in ports if p.id > marker]
            page = ports[:limit]
            return [p.as_dict(now) for p in page], total, len(ports) > limit

    def get_port(self, port_id: str) -> dict[str, Any]:
        with self._lock:
            self._reap()
            port = self.world.ports.get(port_id)
            if port is None:
                raise ApiError(404, "Vpc.Port.NotFound", f"port {port_id} not found")
            return port.as_dict(self.now())

    def ip_availability(self, subnet_id: str, ip: str) -> dict[str, Any]:
        with self._lock:
            subnet = self.world.subnets.get(subnet_id)
            if subnet is None:
                raise ApiError(404, "Vpc.Subnet.NotFound", f"subnet {subnet_id} not found")
            problem = self._address_problem(subnet, ip)
            if problem:
                return {"available": False, "message": problem}
            if ip in self._used_addresses(subnet_id):
                return {"available": False, "message": f"{ip} is already in use in {subnet.cidr}"}
            return {"available": True, "message": f"{ip} is available"}

    # --- writes -----------------------------------------------------------------------------------------

    def _same_world(self, generation: int | None) -> None:
        """A write that arrived before a reset (`generation`: the world it arrived in) belongs to a world that is
        gone: it changes nothing in the new one (a test's leftover call, still sleeping out its latency, must not
        land in the next test's world)."""
        if generation is not None and generation != self.generation:
            raise ApiError(503, "ContactAdminForAssistance", "the simulator was reset while this call was in flight")

    def attach(
        self, server_id: str, body: Any, *, with_default: bool, conflict: bool = False, generation: int | None = None
    ) -> dict[str, Any]:
        """Validate and apply an attach; `conflict` injects the transient 409 seen right after a server boots."""
        bad = "VirtualServer.CreateInterface.InvalidParameter"
        with self._lock:
            self._same_world(generation)
            server = self._server(server_id)
            if not isinstance(body, dict):
                raise ApiError(400, bad, "request body must be a JSON object")
            unknown = set(body) - {"subnet_id", "port_id", "fixed_ips"}
            if unknown:
                raise ApiError(400, bad, f"unknown field(s): {', '.join(sorted(map(str, unknown)))}")
            subnet_id, port_id, fixed_ips = body.get("subnet_id"), body.get("port_id"), body.get("fixed_ips")
            if subnet_id and port_id:
                raise ApiError(400, "VirtualServer.CreateInterface.Duplicated", "give subnet_id or port_id, not both")
            if not subnet_id and not port_id:
                raise ApiError(400, bad, "one of subnet_id and port_id is required")
            if port_id and fixed_ips:
                raise ApiError(400, bad, "fixed_ips cannot be given with port_id")
            if subnet_id:
                return self._attach_new_port(server, subnet_id, fixed_ips, with_default=with_default, conflict=conflict)
            return self._attach_existing_port(server, port_id, with_default=with_default, conflict=conflict)

    def _check_server_can_attach(self, server: Server, conflict: bool) -> None:
        if server.locked:
            raise ApiError(409, "VirtualServer.Server.Locked", f"server {server.name} is locked")
        if server.state not in ATTACHABLE_STATES:
            raise ApiError(
                409,
                "VirtualServer.Server.InvalidState",
                f"server {server.name} is {server.state}, not ACTIVE or SHUTOFF",
            )
        if conflict:
            raise ApiError(409, "VirtualServer.CreateInterface.Conflict", "server is busy; try again")

    def _attach_new_port(self, server, subnet_id, fixed_ips, *, with_default, conflict):
        bad = "VirtualServer.CreateInterface.InvalidParameter"
        if not isinstance(subnet_id, str):
            raise ApiError(400, bad, "subnet_id must be a string")
        subnet = self.world.subnets.get(subnet_id)
        if subnet is None:
            raise ApiError(404, "Vpc.Subnet.NotFound", f"subnet {subnet_id} not found")
        if subnet.vpc_id != server.vpc_id:
            raise ApiError(400, bad, f"subnet {subnet.name} is not in the server's VPC")
        if fixed_ips is not None and not isinstance(fixed_ips, list):
            raise ApiError(400, bad, "fixed_ips must be a list")
        addresses: list[str] = []
        for item in fixed_ips or []:
            raw = item.get("ip_address") if isinstance(item, dict) else None
            problem = self._address_problem(subnet, raw)
            if problem:
                raise ApiError(400, bad, problem)
            if raw in addresses:
                raise ApiError(400, bad, f"{raw} is given twice")
            addresses.append(raw)
        self._check_server_can_attach(server, conflict)
        used = self._used_addresses(subnet.id)
        for address in addresses:
            if address in used:
                raise ApiError(409, "VirtualServer.CreateInterface.IpInUse", f"{address} is already in use")
        if not addresses:
            addresses = [self._free_address(subnet)]
        port = Port(
            self._uuid(),
            f"{server.name}-if-{len(self._ports_of(server.id))}",
            subnet.id,
            subnet.vpc_id,
            addresses,
            self._mac(),
            attached_resource_id=server.id,
            ready_at=self.now() + self.settle_seconds,
            created_by_attach=True,
        )
        self.world.ports[port.id] = port
        return port.as_interface(self.now(), with_default=with_default)

    def _attach_existing_port(self, server, port_id, *, with_default, conflict):
        if not isinstance(port_id, str):
            raise ApiError(400, "VirtualServer.CreateInterface.InvalidParameter", "port_id must be a string")
        port = self.world.ports.get(port_id)
        if port is None:
            raise ApiError(404, "Vpc.Port.NotFound", f"port {port_id} not found")
        if port.vpc_id != server.vpc_id:
            raise ApiError(
                400, "VirtualServer.CreateInterface.InvalidParameter", f"port {port.name} is not in the server's VPC"
            )
        if port.attached_resource_id:
            raise ApiError(409, "VirtualServer.CreateInterface.PortInUse", f"port {port.name} is already attached")
        self._check_server_can_attach(server, conflict)
        port.attached_resource_id = server.id
        port.ready_at = self.now() + self.settle_seconds
        return port.as_interface(self.now(), with_default=with_default)

    def detach(self, server_id: str, port_id: str, *, conflict: bool = False, generation: int | None = None) -> None:
        """Accept a detach: the interface is DELETING for the settle time, then gone (see `_reap`)."""
        with self._lock:
            self._same_world(generation)
            server = self._server(server_id)
            self._reap()
            port = self.world.ports.get(port_id)
            if port is None or port.attached_resource_id != server_id:
                raise ApiError(404, "VirtualServer.Interface.NotFound", f"interface {port_id} not found")
            if port.is_default:
                raise ApiError(409, "VirtualServer.Interface.Default", "the default interface cannot be detached")
            if port.detaching:
                raise ApiError(409, "VirtualServer.Interface.Deleting", f"interface {port_id} is being detached")
            if server.locked:
                raise ApiError(409, "VirtualServer.Server.Locked", f"server {server.name} is locked")
            if conflict:
                raise ApiError(409, "VirtualServer.DeleteInterface.Conflict", "server is busy; try again")
            port.detaching = True
            port.ready_at = self.now() + self.settle_seconds

    def out_of_band(self, op: str, *, server_id: str = "", subnet_id: str = "", port_id: str = "") -> dict[str, Any]:
        """Change interfaces behind the API's back, as someone with console access would (control endpoint only)."""
        with self._lock:
            self._reap()
            if op == "add":
                server, subnet = self._server(server_id), self.world.subnets[subnet_id]
                port = Port(
                    self._uuid(),
                    f"{server.name}-manual-{len(self._ports_of(server.id))}",
                    subnet.id,
                    subnet.vpc_id,
                    [self._free_address(subnet)],
                    self._mac(),
                    attached_resource_id=server.id,
                    created_by_attach=True,
                )
                self.world.ports[port.id] = port
                return {"port_id": port.id}
            port = self.world.ports[port_id]
            if op == "remove":
                if port.created_by_attach:
                    del self.world.ports[port.id]
                else:
                    port.attached_resource_id = None
            elif op == "error":
                port.error = True
            else:
                raise ValueError(f"unknown operation {op!r}")
            return {"port_id": port.id}

    def set_server(
        self, server_id: str, *, state: str | None = None, locked: bool | None = None, name: str | None = None
    ) -> None:
        """Change a server for tests (control endpoint only)."""
        with self._lock:
            server = self._server(server_id)
            self._servers_version += 1
            if name is not None:
                server.name = name
            if state is not None:
                server.state = state
            if locked is not None:
                server.locked = locked

    def summary(self) -> dict[str, Any]:
        with self._lock:
            return {
                "vpcs": [{"id": v.id, "name": v.name} for v in self.world.vpcs.values()],
                "servers": len(self.world.servers),
                "ports": len(self.world.ports),
                "settle_seconds": self.settle_seconds,
            }
