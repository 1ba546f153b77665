"""Ready-to-copy guest configuration for a new interface (and its removal), filled from SCP's real answer.

A secondary interface gets its addresses but no default route: a second default route would break the server's
traffic. The gateway is shown, for whoever needs a route through it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from django.utils.translation import gettext


@dataclass(frozen=True)
class GuestConfig:
    mac: str
    addresses: list[str]  # with prefix length, e.g. 192.168.20.30/24
    gateway: str | None
    name: str  # the profile/file name used by every snippet, so that the detach note can remove it
    netplan: str
    nmcli: str
    netsh: str
    removal: dict[str, str]


def _with_prefix(address: str, cidr: str) -> str:
    network = ipaddress.ip_network(cidr, strict=False)
    return f"{address}/{network.prefixlen}"


def guest_config(*, port_id: str, mac: str, addresses: list[str], cidr: str, gateway: str | None) -> GuestConfig:
    name = f"scp-{port_id[:8]}"
    with_prefix = [_with_prefix(a, cidr) for a in addresses]
    network = ipaddress.ip_network(cidr, strict=False)
    gateway_note = f"  # gateway {gateway} (no default route on a second interface)" if gateway else ""
    netplan = "\n".join(
        [
            f"# /etc/netplan/60-{name}.yaml, then: sudo netplan apply",
            "network:",
            "  version: 2",
            "  ethernets:",
            f"    {name}:",
            "      match:",
            f'        macaddress: "{mac}"',
            "      dhcp4: false",
            "      dhcp6: false",
            f"      addresses: [{', '.join(with_prefix)}]{gateway_note}",
        ]
    )
    find = f"IF=$(ip -o link | awk -v mac={mac} 'tolower($0) ~ mac {{print substr($2, 1, length($2) - 1)}}')"
    family = "ipv6" if network.version == 6 else "ipv4"
    nmcli = "\n".join(
        [
            find,
            f'sudo nmcli connection add type ethernet ifname "$IF" con-name {name} {family}.method manual '
            f'{family}.addresses "{",".join(with_prefix)}" {family}.never-default yes',
            f"sudo nmcli connection up {name}",
        ]
    )
    windows_mac = mac.upper().replace(":", "-")
    lines = [f'$ifName = (Get-NetAdapter | Where-Object MacAddress -eq "{windows_mac}").Name']
    for address in addresses:
        if network.version == 6:
            lines.append(f'netsh interface ipv6 add address "$ifName" {address}/{network.prefixlen}')
        elif address == addresses[0]:
            lines.append(f'netsh interface ipv4 set address name="$ifName" static {address} {network.netmask}')
        else:
            lines.append(f'netsh interface ipv4 add address name="$ifName" {address} {network.netmask}')
    removal = {
        "netplan": f"sudo rm /etc/netplan/60-{name}.yaml && sudo netplan apply",
        "nmcli": f"sudo nmcli connection delete {name}",
        "netsh": gettext("Nothing to remove: Windows forgets the adapter's settings when the adapter goes."),
    }
    return GuestConfig(
        mac=mac,
        addresses=with_prefix,
        gateway=gateway,
        name=name,
        netplan=netplan,
        nmcli=nmcli,
        netsh="\n".join(lines),
        removal=removal,
    )
