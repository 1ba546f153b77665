"""Watch SCP's published API versions: warn ahead of a pinned version's Not Before date, refuse after it.

The scheduler fetches each service's version list (`GET /` on the service) daily and stores it here. A pinned
version within WARN_DAYS of its Not Before date shows a banner to administrators, mails them once, and makes
`manage.py check` warn; once the date has come, execution refuses before sending anything.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from portal.audit.events import AuditAction
from portal.audit.models import Outcome
from portal.audit.services import record_event

from .mail import send_notification
from .models import ScpApiVersion
from .scp import scp_client

WARN_DAYS = 90
SERVICES = {"virtualserver": "SCP_VIRTUALSERVER_API_VERSION", "vpc": "SCP_VPC_API_VERSION"}
_VERSION = re.compile(r"^v?(\d{1,3}\.\d{1,3})$")


@dataclass(frozen=True)
class VersionWatch:
    service: str
    version: str
    level: str  # "ok", "warning" or "expired"
    message: str = ""


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None  # an unreadable date from SCP is no date, not a crash


@transaction.atomic
def _store(service: str, listing, *, now: dt.datetime) -> int:
    seen = []
    for item in listing.versions:
        match = _VERSION.match(item.id.strip())
        if match is None:
            continue
        version = match.group(1)
        seen.append(version)
        ScpApiVersion.objects.update_or_create(
            service=service,
            version=version,
            defaults={
                "status": item.status.strip().upper()[:20],
                "not_before": _date(item.not_before),
                "fetched_at": now,
            },
        )
    ScpApiVersion.objects.filter(service=service).exclude(version__in=seen).delete()
    return len(seen)


def scp_versions_refresh(*, client=None) -> dict[str, int]:
    """Fetch and store every service's version list, then tell administrators about any new deadline."""

    client = client or scp_client()
    now = timezone.now()
    counts = {service: _store(service, client.list_versions(service), now=now) for service in SERVICES}
    version_watch_notify()
    return counts


def version_watch(*, today: dt.date | None = None) -> list[VersionWatch]:
    """How each pinned version stands in SCP's last published list (nothing to say before the first fetch)."""
    today = today or _today()
    config = settings.CONFIG
    stored = {(v.service, v.version): v for v in ScpApiVersion.objects.all()}
    results = []
    for service, variable in SERVICES.items():
        pinned = getattr(config, variable.lower())
        entry = stored.get((service, pinned))
        if entry is None:
            if any(key[0] == service for key in stored):
                text = _(
                    "SCP no longer lists %(service)s API version %(version)s; pin a listed version with %(variable)s."
                )
                words = {"service": service, "version": pinned, "variable": variable}
                results.append(VersionWatch(service, pinned, "warning", text % words))
            continue
        results.append(_standing(service, pinned, variable, entry, today))
    return results


def _standing(service: str, pinned: str, variable: str, entry: ScpApiVersion, today: dt.date) -> VersionWatch:
    """How one pinned version that SCP lists stands today."""
    words: dict[str, object] = {"service": service, "version": pinned, "status": entry.status, "variable": variable}
    if entry.status == "PLANNED":
        text = _(
            "SCP lists %(service)s API version %(version)s as PLANNED: it cannot be called yet. Pin another with "
            "%(variable)s."
        )
        return VersionWatch(service, pinned, "expired", text % words)
    if entry.not_before is None:
        return VersionWatch(service, pinned, "ok")
    words["date"] = entry.not_before.isoformat()
    if today >= entry.not_before:
        text = _(
            "%(service)s API version %(version)s (%(status)s) reached its Not Before date %(date)s: SCP no "
            "longer guarantees it. An administrator must pin a current version with %(variable)s."
        )
        return VersionWatch(service, pinned, "expired", text % words)
    days = (entry.not_before - today).days
    if days > WARN_DAYS:
        return VersionWatch(service, pinned, "ok")
    words["days"] = days
    text = ngettext(
        "%(service)s API version %(version)s (%(status)s) reaches its Not Before date %(date)s in "
        "%(days)d day; after that the portal refuses to send requests with it. Pin a current version "
        "with %(variable)s before then.",
        "%(service)s API version %(version)s (%(status)s) reaches its Not Before date %(date)s in "
        "%(days)d days; after that the portal refuses to send requests with it. Pin a current version "
        "with %(variable)s before then.",
        days,
    )
    return VersionWatch(service, pinned, "warning", text % words)


def version_problems(*, today: dt.date | None = None) -> list[VersionWatch]:
    return [w for w in version_watch(today=today) if w.level != "ok"]


def version_refusal(*, today: dt.date | None = None) -> str | None:
    """The reason execution must not send anything with the pinned versions, or None."""
    expired = [w.message for w in version_watch(today=today) if w.level == "expired"]
    return " ".join(expired) or None


def version_watch_notify(*, today: dt.date | None = None) -> int:
    """Audit and mail each new warning to administrators once (per service, version, date and level)."""
    sent = 0
    for watch in version_problems(today=today):
        entry = ScpApiVersion.objects.filter(service=watch.service, version=watch.version).first()
        key = f"{watch.level}:{entry.not_before if entry else 'unlisted'}"
        if entry is not None and entry.notified == key:
            continue
        record_event(
            action=AuditAction.VERSION_WARNING,
            outcome=Outcome.FAILURE if watch.level == "expired" else Outcome.PENDING,
            payload={
                "service": watch.service,
                "version": watch.version,
                "level": watch.level,
                "message": watch.message,
            },
        )
        if entry is not None:
            ScpApiVersion.objects.filter(pk=entry.pk).update(notified=key)
        admins = list(
            get_user_model()
            .objects.filter(is_staff=True, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
        send_notification(
            f"SCP API version {watch.service} {watch.version}: action needed", watch.message + "\n", admins
        )
        sent += 1
    return sent


def version_problems_safe() -> list[VersionWatch]:
    """For checks and page banners: nothing to report while the table is not there yet (before migrate)."""
    try:
        return version_problems()
    except DatabaseError:
        return []
