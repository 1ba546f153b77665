"""The API version catalogue and the policy for which versions may be called (spec §3)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class VersionState(StrEnum):
    CURRENT = "CURRENT"
    SUPPORTED = "SUPPORTED"
    PLANNED = "PLANNED"
    DEPRECATED = "DEPRECATED"


@dataclass(frozen=True)
class ApiVersion:
    service: str
    version: str
    state: VersionState
    not_before: dt.date | None


def _v(service: str, version: str, state: VersionState, not_before: str | None) -> ApiVersion:
    return ApiVersion(service, version, state, dt.date.fromisoformat(not_before) if not_before else None)


CATALOGUE: dict[tuple[str, str], ApiVersion] = {
    (v.service, v.version): v
    for v in (
        # From create-server-interface.txt.
        _v("virtualserver", "1.3", VersionState.CURRENT, None),
        _v("virtualserver", "1.2", VersionState.SUPPORTED, "2026-08-31"),
        _v("virtualserver", "1.1", VersionState.DEPRECATED, "2026-05-31"),
        _v("virtualserver", "1.0", VersionState.DEPRECATED, "2025-12-31"),
        # The vpc catalogue is not published in our spec; 1.2 is what the SDK pins. Inferred, easy to change.
        _v("vpc", "1.2", VersionState.CURRENT, None),
        _v("vpc", "1.1", VersionState.SUPPORTED, None),
        _v("vpc", "1.0", VersionState.DEPRECATED, "2025-12-31"),
    )
}

SERVICES = ("virtualserver", "vpc")


class VersionRefused(ValueError):
    """The version may not be called: unknown, planned, or deprecated past its Not Before date."""


@dataclass(frozen=True)
class VersionVerdict:
    version: ApiVersion
    warning: str | None


def current_version(service: str) -> ApiVersion:
    """Return the CURRENT version of a service."""
    return next(v for v in CATALOGUE.values() if v.service == service and v.state is VersionState.CURRENT)


def evaluate(service: str, version: str, *, today: dt.date) -> VersionVerdict:
    """Decide whether `service version` may be called on `today`; raise VersionRefused if not."""
    entry = CATALOGUE.get((service, version))
    if entry is None:
        known = ", ".join(sorted(v.version for v in CATALOGUE.values() if v.service == service)) or "none"
        raise VersionRefused(f"{service} API version {version!r} is unknown (known: {known})")
    if entry.state is VersionState.PLANNED:
        raise VersionRefused(f"{service} API version {version} is PLANNED and cannot be called yet")
    if entry.state is VersionState.DEPRECATED:
        assert entry.not_before is not None
        if today >= entry.not_before:
            raise VersionRefused(
                f"{service} API version {version} is DEPRECATED and no longer supported since "
                f"{entry.not_before.isoformat()}; use {current_version(service).version}"
            )
        return VersionVerdict(
            entry,
            f"{service} API version {version} is DEPRECATED; support ends on {entry.not_before.isoformat()}",
        )
    if entry.state is VersionState.SUPPORTED:
        return VersionVerdict(
            entry,
            f"{service} API version {version} is SUPPORTED, not CURRENT "
            f"({current_version(service).version}); it receives bug fixes only",
        )
    return VersionVerdict(entry, None)
