"""Address rules shared by the form (instant feedback) and execution (re-validation)."""

from __future__ import annotations

import ipaddress


def syntax_problem(address: str) -> str | None:
    """Why `address` is not an IP address at all (the subnet's rules come later, from SCP); None when it is one."""
    text = address.strip()
    try:
        ipaddress.ip_address(text)
    except ValueError:
        if "." in text and ":" in text:
            return f"{text} mixes IPv6 and IPv4 notation; enter a plain IPv4 address."
        return f"{text} is not a valid IP address."
    return None


def address_problem(address: str, *, cidr: str, gateway: str | None) -> str | None:
    """Why `address` cannot be a fixed IP in `cidr`, in words a requester can act on; None when it can."""
    text = address.strip()
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return f"The subnet's CIDR {cidr!r} is not valid; choose another subnet."
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        if "." in text and ":" in text:
            return f"{text} mixes IPv6 and IPv4 notation; enter a plain IPv{network.version} address."
        return f"{text} is not a valid IP address."
    if ip.version != network.version:
        return f"{text} is an IPv{ip.version} address, but the subnet {cidr} is IPv{network.version}."
    if ip not in network:
        return f"{text} is outside the subnet {cidr}."
    if ip == network.network_address:
        return f"{text} is the network address of {cidr}; it cannot be assigned."
    if network.version == 4 and ip == network.broadcast_address:
        return f"{text} is the broadcast address of {cidr}; it cannot be assigned."
    if gateway and text == gateway:
        return f"{text} is the subnet's gateway address; it cannot be assigned."
    return None


def server_unavailable_reason(*, state: str, locked: bool) -> str | None:
    """Why a server cannot take an interface now, or None when it can."""
    if locked:
        return "The server is locked; an administrator must unlock it before interfaces can be attached."
    if state not in ("ACTIVE", "SHUTOFF"):
        shown = state or "in an unknown state"
        return f"The server is {shown}; interfaces can be attached only when it is ACTIVE or SHUTOFF."
    return None


def canonical_address(address: str) -> str:
    """One spelling per address (2001:DB8::5 is 2001:db8::5); text that is no address is returned stripped."""
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return address.strip()


def repeated(address: str) -> str:
    """What the form, the live check and the check as you type say of an address given twice."""
    return f"{address} is given more than once."
