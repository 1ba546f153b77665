"""Sign-in throttling through django-axes: what counts as one client, and what a locked-out person sees."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import render
from django.utils.translation import gettext as _

from portal.core.middleware import client_ip


def lockout_parameters(request, credentials=None) -> list[str]:
    """Count failures per user name and, separately, per address.

    A sign-in through single sign-on carries no user name: it is counted by address only, so failures there can
    never lock out "the user with no name", which would be everyone who uses single sign-on.
    """
    if credentials and credentials.get("username"):
        return ["username", "ip_address"]
    return ["ip_address"]


def sso_not_counted(request, credentials=None) -> bool:
    """Single sign-on is none of axes' business (AXES_WHITELIST_CALLABLE): its failures are the IdP's or an
    attacker's without a password to guess, and counting them by address would let a broken IdP, or anyone
    replaying callbacks, lock every password sign-in from that address (the break-glass admin's included).
    The callback counts its own refusals instead (portal.audit.refusals)."""
    return bool(credentials) and "nonce" in credentials


def client_address(request) -> str | None:
    """The address axes counts: the same one the audit log records (X-Forwarded-For only from trusted proxies).

    None when there is none (a request built in code): axes stores it as NULL, where PostgreSQL's inet column
    would refuse a placeholder.
    """
    return client_ip(request)


def cooloff_minutes() -> int:
    return max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))


def locked_out(request, original_response=None, credentials=None):
    """The page a locked-out sign-in gets: what happened, how long it lasts, and who can lift it."""
    message = _(
        "Too many failed sign-ins for this account or from this address. Sign-in is paused for %(n)d minutes; try "
        "again after that, or ask an administrator to unlock it."
    ) % {"n": cooloff_minutes()}
    context = {"message": message, "title": _("Sign-in paused")}
    return render(request, "registration/refused.html", context, status=429)
