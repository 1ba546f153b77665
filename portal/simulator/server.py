"""The simulator's HTTP front: SCP's signing, versioning and error rules over `SimulatorState`.

Both services are served on one port. Each answers under its own prefix (`/virtualserver`, `/vpc`), so the
portal's two base URLs stay distinct as in production; the same paths without a prefix work too.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .faults import FaultConfig, FaultInjector
from .state import ApiError, SimulatorState

# The simulator keeps its own copy of the version table so that it checks the portal rather than agreeing
# with it by construction.
VERSIONS: dict[str, list[tuple[str, str, str | None]]] = {
    "virtualserver": [
        ("1.3", "CURRENT", None),
        ("1.2", "SUPPORTED", "2026-08-31"),
        ("1.1", "DEPRECATED", "2026-05-31"),
        ("1.0", "DEPRECATED", "2025-12-31"),
    ],
    "vpc": [("1.2", "CURRENT", None), ("1.1", "SUPPORTED", None), ("1.0", "DEPRECATED", "2025-12-31")],
}
CLOCK_SKEW_MS = 5 * 60 * 1000
# A credential that may read but not change anything, as an IAM policy would allow: writes get 403.
READ_ONLY_ACCESS_KEY = "demo-readonly-key-0001"
READ_ONLY_SECRET_KEY = "demo-readonly-secret-not-for-production"
MAX_BODY = 1024 * 1024

ROUTES: list[tuple[str, re.Pattern[str], str, str]] = [
    (m, re.compile(p), service, name)
    for m, p, service, name in [
        ("GET", r"^/v1/servers$", "virtualserver", "list_servers"),
        ("GET", r"^/v1/servers/(?P<server_id>[^/]+)$", "virtualserver", "get_server"),
        ("GET", r"^/v1/servers/(?P<server_id>[^/]+)/interfaces$", "virtualserver", "list_interfaces"),
        ("POST", r"^/v1/servers/(?P<server_id>[^/]+)/interfaces$", "virtualserver", "attach"),
        ("GET", r"^/v1/servers/(?P<server_id>[^/]+)/interfaces/(?P<port_id>[^/]+)$", "virtualserver", "get_interface"),
        ("DELETE", r"^/v1/servers/(?P<server_id>[^/]+)/interfaces/(?P<port_id>[^/]+)$", "virtualserver", "detach"),
        ("GET", r"^/v1/subnets$", "vpc", "list_subnets"),
        ("GET", r"^/v1/subnets/(?P<subnet_id>[^/]+)$", "vpc", "get_subnet"),
        ("GET", r"^/v1/ports/port-ip-availabilities$", "vpc", "ip_availability"),
        ("GET", r"^/v1/ports$", "vpc", "list_ports"),
        ("GET", r"^/v1/ports/(?P<port_id>[^/]+)$", "vpc", "get_port"),
    ]
]


# SCP answers in Korean when asked (Accept-Language: ko-KR); these are the simulator's messages for its errors.
KOREAN = {
    "VirtualServer.CreateInterface.Conflict": "서버가 다른 작업을 처리하고 있습니다. 잠시 후 다시 시도하세요.",
    "VirtualServer.CreateInterface.Duplicated": "subnet_id와 port_id는 함께 지정할 수 없습니다.",
    "VirtualServer.CreateInterface.InvalidParameter": "요청 매개변수가 올바르지 않습니다.",
    "VirtualServer.CreateInterface.IpInUse": "요청한 IP 주소가 이미 사용 중입니다.",
    "VirtualServer.CreateInterface.NoFreeAddress": "서브넷에 할당할 수 있는 주소가 없습니다.",
    "VirtualServer.CreateInterface.PortInUse": "포트가 이미 다른 서버에 연결되어 있습니다.",
    "VirtualServer.DeleteInterface.Conflict": "서버가 다른 작업을 처리하고 있습니다. 잠시 후 다시 시도하세요.",
    "VirtualServer.Interface.Default": "기본 인터페이스는 분리할 수 없습니다.",
    "VirtualServer.Interface.Deleting": "인터페이스를 분리하는 중입니다.",
    "VirtualServer.Interface.NotFound": "인터페이스를 찾을 수 없습니다.",
    "VirtualServer.InvalidParameter": "요청 매개변수가 올바르지 않습니다.",
    "VirtualServer.Server.Locked": "서버가 잠겨 있습니다.",
    "VirtualServer.Server.InvalidState": "서버가 인터페이스를 연결할 수 있는 상태가 아닙니다.",
    "VirtualServer.Server.NotFound": "서버를 찾을 수 없습니다.",
    "Vpc.Port.NotFound": "포트를 찾을 수 없습니다.",
    "Vpc.Subnet.NotFound": "서브넷을 찾을 수 없습니다.",
    "ContactAdminForAssistance": "서비스를 일시적으로 사용할 수 없습니다. 관리자에게 문의하세요.",
}


def _signature(secret: str, message: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()).decode()


def parse_versions(data: dict) -> dict[str, list[tuple[str, str, str | None]]]:
    """A version catalogue from JSON: {"virtualserver": [["1.3", "CURRENT", null], ...], "vpc": [...]}.

    Each service needs exactly one CURRENT version (what a call without Scp-Api-Version gets).
    """
    catalogue: dict[str, list[tuple[str, str, str | None]]] = {}
    for service in VERSIONS:
        entries = [(str(v), str(state).upper(), nb) for v, state, nb in data.get(service, VERSIONS[service])]
        for _, state, nb in entries:
            if state not in ("CURRENT", "SUPPORTED", "PLANNED", "DEPRECATED"):
                raise ValueError(f"{service}: unknown version state {state!r}")
            if nb is not None:
                dt.date.fromisoformat(nb)
        if sum(state == "CURRENT" for _, state, _ in entries) != 1:
            raise ValueError(f"{service}: the catalogue needs exactly one CURRENT version")
        catalogue[service] = entries
    return catalogue


class Simulator:
    """Everything one simulator process holds: the world, the credentials, the faults, the request log."""

    def __init__(
        self,
        *,
        credentials: dict[str, str],
        state: SimulatorState,
        faults: FaultInjector,
        control: bool = False,
        today: dt.date | None = None,
        clock=time.time,
        versions: dict[str, list[tuple[str, str, str | None]]] | None = None,
    ) -> None:
        self.credentials = {**credentials, READ_ONLY_ACCESS_KEY: READ_ONLY_SECRET_KEY}
        self.versions = parse_versions(versions) if versions is not None else dict(VERSIONS)
        self.state = state
        self.faults = faults
        self.control = control
        self.today = today
        self.clock = clock
        self._log: list[dict[str, Any]] = []
        self._log_lock = threading.Lock()

    def current_date(self) -> dt.date:
        return self.today or dt.datetime.fromtimestamp(self.clock(), dt.UTC).date()

    def log(self, entry: dict[str, Any]) -> None:
        with self._log_lock:
            entry["seq"] = len(self._log) + 1
            self._log.append(entry)

    def log_entries(self) -> list[dict[str, Any]]:
        with self._log_lock:
            return [dict(entry) for entry in self._log]

    def log_update(self, entry: dict[str, Any], **changes: Any) -> None:
        """Change a logged entry under the lock, so a reader never sees it half-written."""
        with self._log_lock:
            entry.update(changes)

    def clear_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    def resolve_version(self, service: str, header: str | None) -> str:
        if not header:
            return next(v for v, state, _ in self.versions[service] if state == "CURRENT")
        parts = header.split()
        if len(parts) != 2:
            raise ApiError(400, "Common.ApiVersion.Invalid", f"Scp-Api-Version {header!r} is not '<service> <x.y>'")
        named, version = parts
        if named != service:
            raise ApiError(400, "Common.ApiVersion.Invalid", f"Scp-Api-Version names {named!r}; this is {service!r}")
        for known, state, not_before in self.versions[service]:
            if known == version:
                if state == "DEPRECATED" and not_before and self.current_date() >= dt.date.fromisoformat(not_before):
                    raise ApiError(
                        400,
                        "Common.ApiVersion.Expired",
                        f"{service} {version} is no longer supported since {not_before}",
                    )
                if state == "PLANNED":
                    raise ApiError(400, "Common.ApiVersion.Invalid", f"{service} {version} is not available yet")
                return version
        raise ApiError(400, "Common.ApiVersion.Invalid", f"{service} API version {version!r} is unknown")

    def authenticate(self, method: str, url: str, headers) -> str:
        access_key = headers.get("Scp-Accesskey") or ""
        timestamp = headers.get("Scp-Timestamp") or ""
        signature = headers.get("Scp-Signature") or ""
        client_type = headers.get("Scp-ClientType") or ""
        secret = self.credentials.get(access_key)
        expected = _signature(secret or "x", f"{method}{url}{timestamp}{access_key}Openapi")
        # Compare even for an unknown key, so timing says nothing about which keys exist.
        signature_ok = hmac.compare_digest(expected.encode(), signature.encode())
        if secret is None or not signature_ok or client_type != "Openapi":
            raise ApiError(401, "Common.Unauthorized", "authentication failed: bad access key or signature")
        if not timestamp.isdigit() or abs(int(self.clock() * 1000) - int(timestamp)) > CLOCK_SKEW_MS:
            raise ApiError(401, "Common.Unauthorized", "authentication failed: timestamp outside the allowed window")
        return access_key


class Handler(BaseHTTPRequestHandler):
    server_version = "ScpSimulator/1.0"
    protocol_version = "HTTP/1.1"
    # The status line and headers go out in one write and the body in another. With Nagle's algorithm the body
    # would wait for the client's delayed ACK (40 ms on Linux) on some connections and not others: latency
    # that real SCP does not add, and noise in every measurement taken against the simulator.
    disable_nagle_algorithm = True
    sim: Simulator  # set on the subclass made by make_server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the request log is the record
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def _send_json(self, status: int, body: Any) -> None:
        payload = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, error: ApiError) -> None:
        detail = error.detail
        if (self.headers.get("Accept-Language") or "").lower().startswith("ko") and error.code in KOREAN:
            detail = f"{KOREAN[error.code]} ({error.detail})"  # as SCP does: its message in Korean, the values kept
        self._send_json(error.status, {"errors": [{"code": error.code, "status": error.status, "detail": detail}]})

    def _answer(self, entry: dict[str, Any], status: int, body: Any) -> None:
        # The log records the status before the client can read the answer: whoever
        # has the response in hand and then asks for the log sees the request finished.
        self.sim.log_update(entry, status=status)
        self._send_json(status, body)

    def _answer_error(self, entry: dict[str, Any], error: ApiError) -> None:
        self.sim.log_update(entry, status=error.status, error=error.code)
        self._error(error)

    def _read_body(self) -> tuple[bytes, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ApiError(400, "Common.InvalidRequest", "request body too large")
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return raw, None
        try:
            return raw, json.loads(raw)
        except ValueError:
            raise ApiError(400, "Common.InvalidRequest", "request body is not valid JSON") from None

    def _handle(self, method: str) -> None:
        sim = self.sim
        split = urlsplit(self.path)
        path = split.path
        if path.startswith("/_sim/"):
            self._control(method, path)
            return
        service_prefix = None
        for prefix in ("/virtualserver", "/vpc"):
            if path == prefix or path.startswith(prefix + "/"):
                service_prefix = prefix[1:]
                path = path[len(prefix) :] or "/"
                break
        entry: dict[str, Any] = {
            "time": time.time(),
            "method": method,
            "path": path,
            "query": split.query,
            "version": self.headers.get("Scp-Api-Version"),
            "signature": self.headers.get("Scp-Signature"),  # for tests that prove it never leaks
            "correlation_id": self.headers.get("X-Correlation-Id"),  # whose call this was (the truth tests' key)
            "made": None,  # the port an attach made (at once, or when applied later)
            "body": None,
            "status": None,
            "fault": None,
        }
        try:
            sim.log(entry)  # on receipt, so that a request still being answered is already visible
            generation = sim.state.generation  # the world it arrived in (see SimulatorState._same_world)
            raw, body = self._read_body()
            sim.log_update(entry, body=body if body is not None else (raw.decode("utf-8", "replace") or None))
            if sim.faults.config.latency_ms:
                time.sleep(sim.faults.config.latency_ms / 1000)
            url = f"http://{self.headers.get('Host', '')}{self.path}"
            access_key = sim.authenticate(method, url, self.headers)
            if access_key == READ_ONLY_ACCESS_KEY and method != "GET":
                raise ApiError(403, "Common.Forbidden", "this access key may not change resources")
            if path == "/" and method == "GET":
                service = service_prefix or "virtualserver"
                self._answer(entry, 200, self._versions(service))
                return
            route = self._route(method, path)
            name, params, service = route
            if service_prefix and service_prefix != service:
                raise ApiError(404, "Common.NotFound", f"{path} is not a {service_prefix} endpoint")
            version = sim.resolve_version(service, self.headers.get("Scp-Api-Version"))
            injected = sim.faults.error_status(method)
            if injected:
                sim.log_update(entry, fault=f"error {injected}")
                raise ApiError(injected, "ContactAdminForAssistance", "the service is temporarily unavailable")
            query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
            with_default = version >= "1.2"
            if name in ("attach", "detach"):  # the same faults for both writes
                fault = sim.faults.attach_fault()
                if fault.apply_later:  # the gateway gives up, and SCP applies the write after all, a while later
                    sim.log_update(entry, fault="apply later")
                    self._apply_later(entry, name, params, body, with_default, generation)
                    raise ApiError(504, "GatewayTimeout", "the request timed out at the gateway")
                if name == "attach":
                    result = sim.state.attach(
                        params["server_id"],
                        body,
                        with_default=with_default,
                        conflict=fault.conflict,
                        generation=generation,
                    )
                    sim.log_update(entry, made=result["port_id"])
                else:
                    sim.state.detach(
                        params["server_id"], params["port_id"], conflict=fault.conflict, generation=generation
                    )
                    result = {}
                if fault.drop:
                    sim.log_update(entry, fault="drop after apply", status=0)
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if fault.late:
                    delay = sim.faults.late_delay()
                    sim.log_update(entry, fault=f"late after apply ({delay:g} s)")
                    time.sleep(delay)
                payload = result
            else:
                payload = self._dispatch(name, params, query, with_default)
            self._answer(entry, 200, payload)
        except ApiError as error:
            self._answer_error(entry, error)
        except (ValueError, TypeError) as error:
            self._answer_error(entry, ApiError(400, "Common.InvalidRequest", f"bad parameter: {error}"))
        finally:
            if "seq" not in entry:
                sim.log(entry)
            if entry["status"] is None:  # an unexpected failure: the client saw no proper answer
                sim.log_update(entry, status=500)

    def _apply_later(
        self, entry: dict[str, Any], name: str, params: dict[str, str], body: Any, with_default: bool, generation: int
    ):
        """Carry out a write after `apply_later_seconds`, as SCP does with a request its gateway timed out on."""
        sim = self.sim

        def apply() -> None:
            try:
                if name == "attach":
                    result = sim.state.attach(
                        params["server_id"], body, with_default=with_default, generation=generation
                    )
                    outcome = f"applied late: {result['port_id']}"
                    sim.log_update(entry, made=result["port_id"])
                else:
                    sim.state.detach(params["server_id"], params["port_id"], generation=generation)
                    outcome = "applied late"
            except ApiError as error:
                outcome = f"refused late: {error.status} {error.code}"
            sim.log_update(entry, fault=f"apply later; {outcome}")

        timer = threading.Timer(sim.faults.config.apply_later_seconds, apply)
        timer.daemon = True
        timer.start()

    def _route(self, method: str, path: str) -> tuple[str, dict[str, str], str]:
        for route_method, pattern, service, name in ROUTES:
            match = pattern.match(path)
            if match and route_method == method:
                return name, match.groupdict(), service
        raise ApiError(404, "Common.NotFound", f"no endpoint {method} {path}")

    def _versions(self, service: str) -> dict[str, Any]:
        return {
            "versions": [
                {"id": f"v{v}", "status": state, "not_before": nb, "links": [{"href": f"/{service}/", "rel": "self"}]}
                for v, state, nb in self.sim.versions[service]
            ]
        }

    def _dispatch(self, name: str, params: dict[str, str], query: dict[str, str], with_default: bool) -> Any:
        state = self.sim.state

        def limit(key: str, default: int) -> int:
            value = int(query.get(key, default))
            if not 1 <= value <= 1000:
                raise ApiError(400, "Common.InvalidParameter", f"{key} must be between 1 and 1000")
            return value

        match name:
            case "list_servers":
                servers = state.list_servers(
                    name=query.get("name"),
                    ip=query.get("ip"),
                    state=query.get("state"),
                    vpc_id=query.get("vpc_id"),
                    limit=limit("limit", 20),
                    marker=query.get("marker"),
                    sort=query.get("sort"),
                )
                return {"servers": servers}
            case "get_server":
                return state.get_server(params["server_id"])
            case "list_interfaces":
                return {"interfaces": state.list_interfaces(params["server_id"], with_default=with_default)}
            case "get_interface":
                interface = state.get_interface(params["server_id"], params["port_id"], with_default=with_default)
                return {"interfaces": [interface]}
            case "list_subnets":
                page = int(query.get("page", 0))
                if page < 0:
                    raise ApiError(400, "Common.InvalidParameter", "page must be 0 or more")
                subnets, total = state.list_subnets(
                    vpc_id=query.get("vpc_id"),
                    name=query.get("name"),
                    cidr=query.get("cidr"),
                    state=query.get("state"),
                    type=query.get("type"),
                    page=page,
                    size=limit("size", 20),
                )
                return {"subnets": subnets, "total_count": total}
            case "get_subnet":
                return {"subnet": state.get_subnet(params["subnet_id"])}
            case "list_ports":
                size = limit("limit", 20)
                ports, total, more = state.list_ports(
                    subnet_id=query.get("subnet_id"),
                    attached_resource_id=query.get("attached_resource_id"),
                    attached_resource_types=query.get("attached_resource_types"),
                    fixed_ip_address=query.get("fixed_ip_address"),
                    state=query.get("state"),
                    limit=size,
                    marker=query.get("marker"),
                )
                links = [{"rel": "next", "href": f"/v1/ports?limit={size}&marker={ports[-1]['id']}"}] if more else []
                return {
                    "count": total if query.get("with_count") == "true" else None,
                    "links": links,
                    "ports": ports,
                }
            case "get_port":
                return {"port": state.get_port(params["port_id"])}
            case "ip_availability":
                subnet_id, ip = query.get("subnet_id"), query.get("fixed_ip_address")
                if not subnet_id or not ip:
                    raise ApiError(400, "Common.InvalidParameter", "subnet_id and fixed_ip_address are required")
                return state.ip_availability(subnet_id, ip)
        raise ApiError(404, "Common.NotFound", name)  # pragma: no cover

    def _control(self, method: str, path: str) -> None:
        """Test-only endpoints; they exist only when the simulator was started with control enabled."""
        sim = self.sim
        if not sim.control:
            self._error(ApiError(404, "Common.NotFound", f"no endpoint {method} {path}"))
            return
        try:
            _, body = self._read_body()
            body = body or {}
            match (method, path):
                case ("GET", "/_sim/requests"):
                    self._send_json(200, {"requests": sim.log_entries()})
                case ("DELETE", "/_sim/requests"):
                    sim.clear_log()
                    self._send_json(200, {})
                case ("GET", "/_sim/faults"):
                    self._send_json(200, sim.faults.as_dict())
                case ("POST", "/_sim/faults"):
                    sim.faults.configure(FaultConfig.from_dict(body))
                    self._send_json(200, sim.faults.as_dict())
                case ("POST", "/_sim/versions"):
                    sim.versions = parse_versions({**VERSIONS, **body})
                    self._send_json(200, {"versions": sim.versions})
                case ("POST", "/_sim/reset"):
                    sim.versions = dict(VERSIONS)
                    sim.state.reset()
                    sim.faults.configure(FaultConfig())
                    sim.clear_log()
                    if "settle_seconds" in body:
                        sim.state.settle_seconds = float(body["settle_seconds"])
                    self._send_json(200, sim.state.summary())
                case ("POST", "/_sim/interfaces"):
                    self._send_json(200, sim.state.out_of_band(**body))
                case ("POST", "/_sim/servers"):
                    sim.state.set_server(
                        body["server_id"], state=body.get("state"), locked=body.get("locked"), name=body.get("name")
                    )
                    self._send_json(200, {})
                case ("GET", "/_sim/summary"):
                    self._send_json(200, sim.state.summary())
                case _:
                    raise ApiError(404, "Common.NotFound", f"no control endpoint {method} {path}")
        except ApiError as error:
            self._error(error)
        except (ValueError, TypeError, KeyError) as error:
            self._error(ApiError(400, "Common.InvalidRequest", str(error)))


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        """A client that gave up (its read timeout) closes the connection under a late answer: not an error."""
        import sys

        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def make_server(host: str, port: int, simulator: Simulator) -> ThreadingHTTPServer:
    handler = type("BoundHandler", (Handler,), {"sim": simulator})
    server = _Server((host, port), handler)
    server.daemon_threads = True
    return server
