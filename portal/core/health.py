"""Readiness: each dependency the portal needs to do its work, checked and named."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from portal.audit.outbox import effects_backlog
from portal.audit.selectors import chain_head
from portal.audit.streams import stream_states
from portal.audit.witnessing import witness_states
from portal.scp.errors import ScpError

from .models import Heartbeat
from .scp import scp_client

SCP_PROBE_TTL = 30.0  # seconds a probe's answer is reused, so that probes never load SCP
SCP_PROBE_TIMEOUT = 2.0


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


def heartbeat(name: str) -> None:
    """Record that the named process is alive and doing its work now."""
    Heartbeat.objects.update_or_create(name=name, defaults={"beat_at": timezone.now()})


def _database() -> Check:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return Check(True, connection.vendor)


_migrated = False


def _migrations() -> Check:
    global _migrated
    if not _migrated:  # once applied they stay applied: the migration graph is read once per process
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            return Check(False, f"{len(plan)} migration(s) not applied; run manage.py migrate")
        _migrated = True
    return Check(True, "all applied")


def _beat(name: str) -> Check:
    beat = Heartbeat.objects.filter(name=name).first()
    limit = settings.CONFIG.heartbeat_max_age
    if beat is None:
        return Check(False, f"no heartbeat from the {name} yet")
    age = (timezone.now() - beat.beat_at).total_seconds()
    if age > limit:
        return Check(False, f"last heartbeat {age:.0f} s ago (limit {limit} s)")
    return Check(True, f"last heartbeat {age:.0f} s ago")


_probe_lock = threading.Lock()
_probe: tuple[float, Check] | None = None


def _scp() -> Check:
    """Whether SCP answers its version list, asked at most every SCP_PROBE_TTL seconds per process."""
    global _probe
    with _probe_lock:
        if _probe is not None and time.monotonic() - _probe[0] < SCP_PROBE_TTL:
            return _probe[1]

        try:
            probe = scp_client(audited=False, connect_timeout=SCP_PROBE_TIMEOUT, read_timeout=SCP_PROBE_TIMEOUT)
            probe.list_versions("virtualserver")
            result = Check(True, "answers")
        except ScpError as exc:
            result = Check(False, f"{type(exc).__name__}: {exc}"[:200])
        _probe = (time.monotonic(), result)
        return result


def _audit_head() -> Check:
    seq, _ = chain_head()
    return Check(True, f"head at event {seq}")


def _effects() -> Check:
    """The outbox's backlog: informative (a mail server that is down must not take the portal out of service)."""

    backlog = effects_backlog()
    return Check(
        True,
        f"{backlog['pending']} pending ({backlog['failing']} failing), {backlog['given_up']} given up; "
        f"oldest {backlog['oldest_seconds']:.0f} s",
    )


def _witnesses() -> Check:
    """The audit log's witnesses: informative too (a second team's witness down must not stop the portal's work),
    and a witness that has cosigned nothing for AUDIT_WITNESS_QUIET_SECONDS is named as quiet."""
    states = witness_states()
    if not states:
        return Check(True, "none configured")
    parts = []
    for state in states:
        since = f"{state['age_seconds']:.0f} s ago" if state["age_seconds"] is not None else "never"
        parts.append(f"{'quiet: ' if state['quiet'] else ''}{state['name']} cosigned {state['size']} ({since})")
    return Check(True, "; ".join(parts))


def _streams() -> Check:
    """The SIEM streams: informative (a SIEM down must not stop the portal; the cursor catches up afterwards)."""
    states = stream_states()
    if not states:
        return Check(True, "none configured")
    parts = []
    for state in states:
        failing = f", failing since {state['failing_since']:%H:%M:%S} UTC" if state["failing_since"] else ""
        parts.append(f"{state['name']}: {state['lag']} event(s) behind{failing}")
    return Check(True, "; ".join(parts))


CHECKS = {
    "database": _database,
    "migrations": _migrations,
    "worker": lambda: _beat("worker"),
    "scheduler": lambda: _beat("scheduler"),
    "scp": _scp,
    "audit_head": _audit_head,
    "effects": _effects,
    "witnesses": _witnesses,
    "streams": _streams,
}


def readiness() -> tuple[bool, dict[str, dict]]:
    """Run every check; a check that raises is not ready, with the exception's kind (never a traceback)."""
    results: dict[str, dict] = {}
    for name, check in CHECKS.items():
        try:
            result = check()
        except Exception as exc:  # a dependency down shows as a failed check, not a 500
            result = Check(False, type(exc).__name__)
        results[name] = {"ok": result.ok, "detail": result.detail}
        if name == "database" and not result.ok:
            for rest in list(CHECKS)[1:]:
                results[rest] = {"ok": False, "detail": "database unreachable"}
            break
    return all(r["ok"] for r in results.values()), results
