"""ScpClient: one method per endpoint the portal needs (spec §4).

Only GETs are retried (502/503/504 and connection failures, with exponential backoff and full jitter);
POST and DELETE never are, because attaching by subnet is not idempotent. Every attempt is re-prepared, so it
carries a fresh timestamp and signature. An optional observer receives a `CallRecord` of every attempt, free
of the secret and the signature: the portal's audit log plugs in there.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from pydantic import BaseModel, ValidationError
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from . import schemas, versions
from .errors import (
    ScpConfigurationError,
    ScpError,
    ScpHttpError,
    ScpNotSent,
    ScpOutcomeUnknown,
    ScpResponseInvalid,
    error_for_status,
)
from .signing import ScpAuth, mask_access_key

M = TypeVar("M", bound=BaseModel)

RETRYABLE_STATUSES = frozenset({502, 503, 504})
MAX_RESPONSE_BYTES = 10 * 1024 * 1024
MAX_RECORDED_BODY = 64 * 1024


@dataclass
class CallRecord:
    """What one HTTP attempt did, as the audit log keeps it."""

    method: str
    url: str
    service: str
    api_version: str
    access_key: str  # masked: last four characters only
    attempt: int
    request_body: dict[str, Any] | None = None
    status: int | None = None
    response_body: str | None = None
    latency_ms: float = 0.0
    error: str | None = None
    error_class: str | None = None
    error_code: str | None = None
    error_detail: str | None = None  # SCP's own text, exactly as it came, in the language asked for
    accept_language: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


Observer = Callable[[CallRecord], None]


@dataclass
class ServerPage:
    servers: list[schemas.Server]
    next_marker: str | None


@dataclass
class PortPage:
    ports: list[schemas.Port]
    next_marker: str | None
    count: int | None = None


@dataclass
class SubnetPage:
    subnets: list[schemas.Subnet]
    total_count: int | None
    page: int = 0
    size: int = 20


@dataclass
class RetryPolicy:
    attempts: int = 3
    backoff_base: float = 0.2
    backoff_max: float = 2.0
    rng: random.Random = field(default_factory=random.Random)
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int) -> float:
        return self.rng.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))


def _segment(value: str) -> str:
    """Quote one path segment so that an untrusted id can never change the path."""
    return quote(str(value), safe="")


def _is_connect_failure(exc: requests.ConnectionError) -> bool:
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


class _MayRetry(Exception):
    """An attempt failed in a way a GET may try again (the client's loop decides by its attempts left)."""

    def __init__(self, error: ScpError) -> None:
        super().__init__(str(error))
        self.error = error


class ScpClient:
    def __init__(
        self,
        *,
        virtualserver_url: str,
        vpc_url: str,
        access_key: str,
        secret_key: str,
        virtualserver_version: str = "1.3",
        vpc_version: str = "1.2",
        accept_language: str | Callable[[], str] = "en-US",
        correlation_id: Callable[[], str] | None = None,
        connect_timeout: float = 3.05,
        read_timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        observer: Observer | None = None,
        clock: Callable[[], float] = time.time,
        session: requests.Session | None = None,
    ) -> None:
        today = dt.datetime.fromtimestamp(clock(), dt.UTC).date()
        for service, version in (("virtualserver", virtualserver_version), ("vpc", vpc_version)):
            try:
                versions.evaluate(service, version, today=today)
            except versions.VersionRefused as exc:
                raise ScpConfigurationError(str(exc)) from None
        self._base = {"virtualserver": virtualserver_url.rstrip("/"), "vpc": vpc_url.rstrip("/")}
        self._version = {"virtualserver": virtualserver_version, "vpc": vpc_version}
        self._auth = ScpAuth(access_key=access_key, secret_key=secret_key, clock=clock)
        self._accept_language = accept_language  # a callable: asked at each call (the reader's language)
        self._correlation_id = correlation_id  # asked at each call: ties SCP's request to the audit log's events
        self._timeout = (connect_timeout, read_timeout)
        self._retry = retry or RetryPolicy()
        self.observer = observer
        self._session = session or requests.Session()
        self._session.trust_env = False  # never route the signed call through an environment proxy

    def __repr__(self) -> str:
        return f"ScpClient({self._base['virtualserver']}, access_key={mask_access_key(self._auth.access_key)})"

    # --- plumbing ---------------------------------------------------------------------------------------

    def api_version_header(self, service: str) -> str:
        return f"{service} {self._version[service]}"

    def url_for(self, service: str, path: str) -> str:
        return f"{self._base[service]}{path}"

    def _request(
        self,
        method: str,
        service: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> requests.Response:
        clean_params = {k: v for k, v in (params or {}).items() if v is not None and v != ""}
        attempts = self._retry.attempts if method == "GET" else 1
        language = self._accept_language() if callable(self._accept_language) else self._accept_language
        headers = {"Scp-Api-Version": self.api_version_header(service), "Accept-Language": language}
        headers["Accept"] = "application/json"
        if self._correlation_id is not None:
            headers["X-Correlation-Id"] = self._correlation_id()[:64]
        for attempt in range(1, attempts + 1):
            request = requests.Request(
                method,
                self.url_for(service, path),
                params=clean_params,
                json=body,
                headers=headers,
                auth=self._auth,
            )
            prepared = self._session.prepare_request(request)  # signs with a fresh timestamp
            record = CallRecord(
                method=method,
                url=prepared.url or "",
                service=service,
                api_version=self._version[service],
                access_key=mask_access_key(self._auth.access_key),
                attempt=attempt,
                request_body=body,
                accept_language=language,
            )
            try:
                response = self._send_once(prepared, record)
            except _MayRetry as failed:
                if attempt < attempts:
                    self._retry.sleep(self._retry.delay(attempt))
                    continue
                raise failed.error from None
            self._notify(record)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_once(self, prepared: requests.PreparedRequest, record: CallRecord) -> requests.Response:
        """One attempt: the answer, or an error (`_MayRetry` around one that a GET may try again)."""
        method = record.method
        started = time.perf_counter()
        try:
            response = self._session.send(prepared, timeout=self._timeout, allow_redirects=False)
        except requests.ConnectionError as exc:
            record.latency_ms = (time.perf_counter() - started) * 1000
            error: ScpError
            if _is_connect_failure(exc):
                error = ScpNotSent(f"could not connect to SCP for {method} {record.url}")
            else:
                error = ScpOutcomeUnknown(f"no answer from SCP to {method} {record.url} (connection dropped)")
            self._note_error(record, error)
            if error.retryable:
                raise _MayRetry(error) from None
            raise error from None
        except requests.Timeout:
            record.latency_ms = (time.perf_counter() - started) * 1000
            error = ScpOutcomeUnknown(f"no answer from SCP to {method} {record.url} within {self._timeout[1]}s")
            self._note_error(record, error)
            raise error from None
        except requests.RequestException as exc:
            record.latency_ms = (time.perf_counter() - started) * 1000
            error = ScpOutcomeUnknown(f"HTTP failure talking to SCP: {type(exc).__name__}")
            self._note_error(record, error)
            raise error from None
        record.latency_ms = (time.perf_counter() - started) * 1000
        record.status = response.status_code
        if len(response.content) > MAX_RESPONSE_BYTES:
            error = ScpResponseInvalid("SCP answered with an oversized body", raw_body="")
            self._note_error(record, error)
            raise error
        text = response.content.decode("utf-8", errors="replace")
        if method != "GET" or response.status_code >= 400:
            record.response_body = text[:MAX_RECORDED_BODY]
        if response.status_code >= 400:
            http_error = error_for_status(status=response.status_code, text=text, method=method, url=record.url)
            self._note_error(record, http_error)
            if response.status_code in RETRYABLE_STATUSES:
                raise _MayRetry(http_error)
            raise http_error
        return response

    def _note_error(self, record: CallRecord, error: ScpError) -> None:
        record.error = str(error)
        record.error_class = type(error).__name__
        if isinstance(error, ScpHttpError):
            record.error_code = error.code
            record.error_detail = error.detail
        self._notify(record)

    def _notify(self, record: CallRecord) -> None:
        if self.observer is not None:
            self.observer(record)

    def _parse(self, response: requests.Response, model: type[M]) -> M:
        text = response.content.decode("utf-8", errors="replace")
        try:
            data = json.loads(text)
        except ValueError:
            raise ScpResponseInvalid(
                f"SCP answered {response.request.method} {response.url} with a body that is not JSON", raw_body=text
            ) from None
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise ScpResponseInvalid(
                f"SCP's answer to {response.request.method} {response.url} does not fit {model.__name__}: "
                f"{exc.error_count()} problem(s), first at {'.'.join(map(str, exc.errors()[0]['loc']))}",
                raw_body=text,
            ) from None

    # --- versions ---------------------------------------------------------------------------------------

    def list_versions(self, service: str) -> schemas.VersionList:
        return self._parse(self._request("GET", service, "/"), schemas.VersionList)

    # --- virtualserver ----------------------------------------------------------------------------------

    def list_servers(
        self,
        *,
        name: str | None = None,
        ip: str | None = None,
        state: str | None = None,
        vpc_id: str | None = None,
        limit: int = 20,
        marker: str | None = None,
        sort: str | None = None,
    ) -> ServerPage:
        params = {"name": name, "ip": ip, "state": state, "vpc_id": vpc_id, "limit": limit, "marker": marker}
        params["sort"] = sort
        servers = self._parse(self._request("GET", "virtualserver", "/v1/servers", params=params), schemas.ServerList)
        page = servers.servers
        return ServerPage(page, page[-1].id if len(page) >= limit and page else None)

    def iter_servers(self, *, page_size: int = 100, **filters: Any) -> Iterator[schemas.Server]:
        marker = None
        while True:
            page = self.list_servers(limit=page_size, marker=marker, **filters)
            yield from page.servers
            if not page.next_marker:
                return
            marker = page.next_marker

    def get_server(self, server_id: str) -> schemas.Server:
        response = self._request("GET", "virtualserver", f"/v1/servers/{_segment(server_id)}")
        return self._parse(response, schemas.Server)

    def list_server_interfaces(self, server_id: str) -> list[schemas.InterfaceResponse]:
        response = self._request("GET", "virtualserver", f"/v1/servers/{_segment(server_id)}/interfaces")
        return self._parse(response, schemas.InterfaceList).interfaces

    def get_server_interface(self, server_id: str, port_id: str) -> schemas.InterfaceResponse:
        path = f"/v1/servers/{_segment(server_id)}/interfaces/{_segment(port_id)}"
        interfaces = self._parse(self._request("GET", "virtualserver", path), schemas.InterfaceList).interfaces
        if len(interfaces) != 1:
            raise ScpResponseInvalid(f"expected one interface for port {port_id}, got {len(interfaces)}")
        return interfaces[0]

    def attach_interface(
        self, server_id: str, request: schemas.ServerInterfaceCreateRequest
    ) -> schemas.InterfaceResponse:
        path = f"/v1/servers/{_segment(server_id)}/interfaces"
        response = self._request("POST", "virtualserver", path, body=request.to_body())
        return self._parse(response, schemas.InterfaceResponse)

    def detach_interface(self, server_id: str, port_id: str) -> None:
        self._request("DELETE", "virtualserver", f"/v1/servers/{_segment(server_id)}/interfaces/{_segment(port_id)}")

    # --- vpc --------------------------------------------------------------------------------------------

    def list_subnets(
        self,
        *,
        vpc_id: str | None = None,
        name: str | None = None,
        cidr: str | None = None,
        state: str | None = None,
        type: str | None = None,
        page: int = 0,
        size: int = 20,
        sort: str | None = None,
    ) -> SubnetPage:
        params: dict[str, str | int | None] = {"vpc_id": vpc_id, "name": name, "cidr": cidr, "state": state}
        params |= {"type": type, "page": page, "size": size, "sort": sort}
        result = self._parse(self._request("GET", "vpc", "/v1/subnets", params=params), schemas.SubnetList)
        return SubnetPage(result.subnets, result.total_count, page, size)

    def iter_subnets(self, *, page_size: int = 100, **filters: Any) -> Iterator[schemas.Subnet]:
        page = 0
        seen = 0
        while True:
            result = self.list_subnets(page=page, size=page_size, **filters)
            yield from result.subnets
            seen += len(result.subnets)
            if not result.subnets or len(result.subnets) < page_size:
                return
            if result.total_count is not None and seen >= result.total_count:
                return
            page += 1

    def get_subnet(self, subnet_id: str) -> schemas.Subnet:
        response = self._request("GET", "vpc", f"/v1/subnets/{_segment(subnet_id)}")
        return self._parse(response, schemas.SubnetEnvelope).subnet

    def list_ports(
        self,
        *,
        subnet_id: str | None = None,
        attached_resource_id: str | None = None,
        attached_resource_types: str | None = None,
        fixed_ip_address: str | None = None,
        state: str | None = None,
        limit: int = 20,
        marker: str | None = None,
        with_count: bool = False,
    ) -> PortPage:
        params: dict[str, Any] = {
            "subnet_id": subnet_id,
            "attached_resource_id": attached_resource_id,
            "attached_resource_types": attached_resource_types,
            "fixed_ip_address": fixed_ip_address,
            "state": state,
            "limit": limit,
            "marker": marker,
            "with_count": "true" if with_count else None,
        }
        result = self._parse(self._request("GET", "vpc", "/v1/ports", params=params), schemas.PortList)
        has_next = any(link.rel == "next" for link in result.links or ())
        next_marker = result.ports[-1].id if result.ports and (has_next or len(result.ports) >= limit) else None
        return PortPage(result.ports, next_marker, result.count)

    def iter_ports(self, *, page_size: int = 100, **filters: Any) -> Iterator[schemas.Port]:
        marker = None
        while True:
            page = self.list_ports(limit=page_size, marker=marker, **filters)
            yield from page.ports
            if not page.next_marker:
                return
            marker = page.next_marker

    def get_port(self, port_id: str) -> schemas.Port:
        response = self._request("GET", "vpc", f"/v1/ports/{_segment(port_id)}")
        return self._parse(response, schemas.PortEnvelope).port

    def check_ip_availability(self, *, subnet_id: str, ip_address: str) -> schemas.IpAvailability:
        params = {"subnet_id": subnet_id, "fixed_ip_address": ip_address}
        response = self._request("GET", "vpc", "/v1/ports/port-ip-availabilities", params=params)
        return self._parse(response, schemas.IpAvailability)
