"""Address rules shared by the form (instant feedback) and execution (re-validation)."""

from __future__ import annotations

import ipaddress
import re

from django.utils.translation import gettext as _


def syntax_problem(address: str) -> str | None:
    """Why `address` is not an IP address at all (the subnet's rules come later, from SCP); None when it is one."""
    text = address.strip()
    try:
        ipaddress.ip_address(text)
    except ValueError:
        if "." in text and ":" in text:
            return _("%(address)s mixes IPv6 and IPv4 notation; enter a plain IPv4 address.") % {"address": text}
        return _("%(address)s is not a valid IP address.") % {"address": text}
    return None


def address_problem(address: str, *, cidr: str, gateway: str | None) -> str | None:
    """Why `address` cannot be a fixed IP in `cidr`, in words a requester can act on; None when it can."""
    text = address.strip()
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return _("The subnet's CIDR %(cidr)s is not valid; choose another subnet.") % {"cidr": repr(cidr)}
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        if "." in text and ":" in text:
            return _("%(address)s mixes IPv6 and IPv4 notation; enter a plain IPv%(version)d address.") % {
                "address": text,
                "version": network.version,
            }
        return _("%(address)s is not a valid IP address.") % {"address": text}
    if ip.version != network.version:
        return _("%(address)s is an IPv%(version)d address, but the subnet %(cidr)s is IPv%(subnet_version)d.") % {
            "address": text,
            "version": ip.version,
            "cidr": cidr,
            "subnet_version": network.version,
        }
    if ip not in network:
        return _("%(address)s is outside the subnet %(cidr)s.") % {"address": text, "cidr": cidr}
    if ip == network.network_address:
        return _("%(address)s is the network address of %(cidr)s; it cannot be assigned.") % {
            "address": text,
            "cidr": cidr,
        }
    if network.version == 4 and ip == network.broadcast_address:
        return _("%(address)s is the broadcast address of %(cidr)s; it cannot be assigned.") % {
            "address": text,
            "cidr": cidr,
        }
    if gateway and text == gateway:
        return _("%(address)s is the subnet's gateway address; it cannot be assigned.") % {"address": text}
    return None


def server_unavailable_reason(*, state: str, locked: bool, detach: bool = False) -> str | None:
    """Why a server cannot take (or, with `detach`, give up) an interface now, or None when it can.

    Each wording is a message of its own, so that every language says "attached" or "detached" properly.
    """
    shown = state or _("in an unknown state")
    if locked:
        if detach:
            return _("The server is locked; an administrator must unlock it before interfaces can be detached.")
        return _("The server is locked; an administrator must unlock it before interfaces can be attached.")
    if state not in ("ACTIVE", "SHUTOFF"):
        if detach:
            return _("The server is %(state)s; interfaces can be detached only when it is ACTIVE or SHUTOFF.") % {
                "state": shown
            }
        return _("The server is %(state)s; interfaces can be attached only when it is ACTIVE or SHUTOFF.") % {
            "state": shown
        }
    return None


def canonical_address(address: str) -> str:
    """One spelling per address (2001:DB8::5 is 2001:db8::5); text that is no address is returned stripped."""
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return address.strip()


def repeated(address: str) -> str:
    """What the form, the live check and the check as you type say of an address given twice."""
    return _("%(address)s is given more than once.") % {"address": address}


MAX_JUSTIFICATION = 1000
MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z!?]|&#?\w+;|javascript:", re.IGNORECASE)


def justification_problem(text: str, *, required: bool = False) -> str | None:
    """Why a justification cannot be taken, in the form's words (the form checks presence and length itself;
    the API asks for them with `required`); None when it can."""
    text = text.strip()
    if required and not text:
        return _("Say why this interface is needed.")
    if required and len(text) > MAX_JUSTIFICATION:
        return _("Keep the justification to 1,000 characters (it has %(show_value)d).") % {"show_value": len(text)}
    if MARKUP.search(text):
        return _("Use plain text: markup such as HTML tags or entities is not accepted.")
    if any(ord(c) < 32 and c not in "\n\r\t" for c in text):
        return _("The justification contains control characters; use plain text.")
    return None
