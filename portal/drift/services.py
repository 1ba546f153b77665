"""The drift report: what SCP shows against what the portal's succeeded requests explain. Reads SCP, writes the
run and its findings, and records the run in the audit log; it never changes anything in SCP."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from django.db import transaction
from django.utils import timezone

from portal.audit.events import AuditAction
from portal.audit.models import Outcome
from portal.audit.outbox import effect_add
from portal.audit.services import record_event
from portal.core.scp import scp_client
from portal.interfaces.models import Action, InterfaceRequest, Status
from portal.interfaces.selectors import OPEN
from portal.scp.client import ScpClient
from portal.scp.errors import ScpError, ScpNotFound

from .models import DriftFinding, DriftKind, DriftRun

SCAN_EFFECT = "drift.scan"


def _explained() -> tuple[dict[tuple[str, str], int], set[tuple[str, str]], set[tuple[str, str]]]:
    """(ports the portal attached and did not detach → request id, ports it detached, ports open requests touch)."""
    attached: dict[tuple[str, str], int] = {}
    detached: set[tuple[str, str]] = set()
    for pk, action, server_id, port_id, result_port_id in (
        InterfaceRequest.objects.filter(status=Status.SUCCEEDED)
        .order_by("pk")
        .values_list("pk", "action", "server_id", "port_id", "result_port_id")
    ):
        if action == Action.DETACH:
            attached.pop((server_id, port_id), None)
            detached.add((server_id, port_id))
        elif result_port_id:
            attached[(server_id, result_port_id)] = pk
            detached.discard((server_id, result_port_id))
    busy = set()
    for server_id, port_id, result_port_id in InterfaceRequest.objects.filter(status__in=OPEN).values_list(
        "server_id", "port_id", "result_port_id"
    ):
        busy.update({(server_id, port_id), (server_id, result_port_id)})
    return attached, detached, busy


def drift_scan(*, trigger: str, client: ScpClient | None = None, workers: int = 8) -> DriftRun:
    """Compare every server's interfaces with the portal's record; one run, its findings, one audit event.

    The reads go out in parallel and are not audited one by one (a scan reads every server); the run's event
    says how many servers it read.
    """
    client = client or scp_client(audited=False)
    run = DriftRun.objects.create(started_at=timezone.now(), trigger=trigger[:20])
    try:
        servers = list(client.iter_servers())
        with ThreadPoolExecutor(max_workers=workers) as pool:
            listed = list(pool.map(lambda s: _interfaces(client, s.id), servers))
    except ScpError as exc:
        run.error = f"SCP could not be read ({type(exc).__name__}); the report is incomplete. Try again later."
        run.finished_at = timezone.now()
        run.save(update_fields=["error", "finished_at"])
        record_event(
            action=AuditAction.DRIFT_SCANNED, outcome=Outcome.FAILURE, payload={"run": run.pk, "error": run.error}
        )
        return run
    attached, _, busy = _explained()
    findings, seen = _listed_findings(run, servers, listed, attached, busy)
    findings += _gone_findings(run, servers, attached, busy, seen)
    with transaction.atomic():
        DriftFinding.objects.bulk_create(findings)
        run.servers_checked, run.findings_count, run.finished_at = len(servers), len(findings), timezone.now()
        run.save(update_fields=["servers_checked", "findings_count", "finished_at"])
        by_kind = Counter(f.kind for f in findings)
        record_event(
            action=AuditAction.DRIFT_SCANNED,
            outcome=Outcome.SUCCESS,
            payload={
                "run": run.pk,
                "trigger": run.trigger,
                "servers": len(servers),
                "findings": len(findings),
                "by_kind": {k: by_kind.get(k, 0) for k in DriftKind.values},
            },
        )
    return run


def _listed_findings(run, servers, listed, attached, busy) -> tuple[list[DriftFinding], set[tuple[str, str]]]:
    """Ports in ERROR, and interfaces no request of the portal explains; with every (server, port) seen."""
    findings: list[DriftFinding] = []
    seen: set[tuple[str, str]] = set()
    for server, interfaces in zip(servers, listed, strict=True):
        if interfaces is None:  # the server went away while the report ran
            continue
        base = {"run": run, "server_id": server.id, "server_name": server.name[:255], "vpc_id": server.vpc_id or ""}
        for interface in interfaces:
            key = (server.id, interface.port_id)
            seen.add(key)
            common = {**base, "port_id": interface.port_id, "addresses": interface.addresses}
            if (interface.port_state or "").upper() == "ERROR":
                findings.append(
                    DriftFinding(
                        kind=DriftKind.PORT_ERROR,
                        request_id=attached.get(key),
                        **common,
                        detail="SCP reports this port in ERROR.",
                    )
                )
            if interface.is_default or key in attached or key in busy:
                continue
            findings.append(
                DriftFinding(
                    kind=DriftKind.ADDED_OUTSIDE, **common, detail="Attached, but no request of the portal made it."
                )
            )
    return findings, seen


def _gone_findings(run, servers, attached, busy, seen) -> list[DriftFinding]:
    """Interfaces the portal attached that are gone, with no detach of the portal to explain it."""
    findings = []
    servers_by_id = {s.id: s for s in servers}
    for (server_id, port_id), request_id in attached.items():
        if (server_id, port_id) in seen or (server_id, port_id) in busy:
            continue
        server = servers_by_id.get(server_id)
        findings.append(
            DriftFinding(
                run=run,
                kind=DriftKind.GONE,
                server_id=server_id,
                server_name=(server.name if server else "")[:255],
                vpc_id=(server.vpc_id or "") if server else "",
                port_id=port_id,
                request_id=request_id,
                detail=f"Request {request_id} attached it; it is no longer attached, and no request of the portal "
                "detached it."
                if server
                else f"Request {request_id} attached it; the server no longer exists.",
            )
        )
    return findings


def _interfaces(client: ScpClient, server_id: str):
    try:
        return client.list_server_interfaces(server_id)
    except ScpNotFound:
        return None


@transaction.atomic
def drift_scan_start(*, user) -> None:
    """Queue a scan on demand (the page's button): an outbox effect, so the request survives a crash."""
    record_event(action=AuditAction.DRIFT_REQUESTED, outcome=Outcome.SUCCESS, payload={}, actor=user)
    effect_add(SCAN_EFFECT, args={"trigger": user.get_username()[:20]})
