"""Pydantic models of every body that crosses the SCP boundary (spec §4, §5).

Requests forbid unknown fields; responses keep them (the API may add fields) but type-check what we use.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

MAX_IDENTIFIER = 64
Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_IDENTIFIER)]
MAX_FIXED_IPS = 16


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- requests -------------------------------------------------------------------------------------------


class FixedIp(_Request):
    ip_address: str

    @field_validator("ip_address")
    @classmethod
    def _valid_address(cls, value: str) -> str:
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            raise ValueError(f"{value!r} is not a valid IP address") from None


class ServerInterfaceCreateRequest(_Request):
    """Attach body: a new port on `subnet_id` (optionally with `fixed_ips`), or the existing `port_id`."""

    subnet_id: Identifier | None = None
    port_id: Identifier | None = None
    fixed_ips: list[FixedIp] | None = Field(default=None, max_length=MAX_FIXED_IPS)

    @model_validator(mode="after")
    def _one_mode(self) -> ServerInterfaceCreateRequest:
        if bool(self.subnet_id) == bool(self.port_id):
            raise ValueError("give exactly one of subnet_id and port_id")
        if self.fixed_ips and not self.subnet_id:
            raise ValueError("fixed_ips may only be given with subnet_id")
        addresses = [ip.ip_address for ip in self.fixed_ips or ()]
        duplicates = sorted({a for a in addresses if addresses.count(a) > 1})
        if duplicates:
            raise ValueError(f"fixed_ips repeats {', '.join(duplicates)}")
        return self

    def to_body(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


# --- responses ------------------------------------------------------------------------------------------


class FixedIpResponse(_Response):
    ip_address: str


class StaticNat(_Response):
    external_ip_address: str | None = None
    id: str | None = None
    publicip_id: str | None = None
    state: str | None = None


class PrivateStaticNat(_Response):
    external_ip_address: str | None = None
    id: str | None = None
    private_nat_ip_id: str | None = None
    state: str | None = None


class InterfaceResponse(_Response):
    fixed_ips: list[FixedIpResponse] = []
    mac_addr: str | None = None
    port_id: str
    port_state: str | None = None
    subnet_id: str | None = None
    static_nat: StaticNat | None = None
    private_static_nat: PrivateStaticNat | None = None
    is_default: bool | None = None  # 1.2 and later

    @property
    def addresses(self) -> list[str]:
        return [ip.ip_address for ip in self.fixed_ips]


class InterfaceList(_Response):
    interfaces: list[InterfaceResponse]


class Server(_Response):
    id: str
    name: str = ""
    state: str = ""
    vpc_id: str | None = None
    locked: bool = False
    server_type: Any = None
    created_at: str | None = None

    def _address_entries(self) -> list[dict]:
        raw = (self.model_extra or {}).get("addresses")
        return [entry for entry in raw if isinstance(entry, dict)] if isinstance(raw, list) else []

    @property
    def ip_addresses(self) -> list[str]:
        """The addresses SCP lists for the server, read defensively (the field is not ours to rely on)."""
        found: list[str] = []
        for entry in self._address_entries():
            ips = entry.get("ip_addresses")
            found += [ip[:45] for ip in ips if isinstance(ip, str)] if isinstance(ips, list) else []
        return found[:16]

    @property
    def interface_count(self) -> int | None:
        """How many interfaces SCP lists addresses for; None when SCP says nothing."""
        entries = self._address_entries()
        return len(entries) if entries else None


class ServerList(_Response):
    servers: list[Server]


class Subnet(_Response):
    id: str
    name: str = ""
    cidr: str
    type: str | None = None
    state: str | None = None
    vpc_id: str
    vpc_name: str | None = None
    gateway_ip_address: str | None = None

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(self.cidr, strict=False)


class SubnetEnvelope(_Response):
    subnet: Subnet


class SubnetList(_Response):
    subnets: list[Subnet]
    total_count: int | None = None


class Port(_Response):
    id: str
    name: str = ""
    subnet_id: str | None = None
    vpc_id: str | None = None
    fixed_ip_address: str | None = None
    mac_address: str | None = None
    attached_resource_id: str | None = None
    attached_resource_type: str | None = None
    state: str | None = None

    @property
    def is_attached(self) -> bool:
        return bool(self.attached_resource_id)


class PortEnvelope(_Response):
    port: Port


class Link(_Response):
    href: str | None = None
    rel: str | None = None


class PortList(_Response):
    ports: list[Port]
    count: int | None = None
    links: list[Link] | None = None


class IpAvailability(_Response):
    available: bool
    message: str | None = None


class VersionInfo(_Response):
    id: str
    status: str
    not_before: str | None = None
    links: list[Link] | None = None


class VersionList(_Response):
    versions: list[VersionInfo]
