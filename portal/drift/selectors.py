from __future__ import annotations

from collections import Counter

from portal.core.roles import is_auditor
from portal.interfaces.access import Purpose, audience_allows
from portal.interfaces.models import InterfaceRequest
from portal.teams.selectors import access_for, server_scope_for

from .models import DriftFinding, DriftKind, DriftRun


def may_review(user) -> bool:
    return bool(user.is_authenticated and (user.is_staff or is_auditor(user)))


def latest_run() -> DriftRun | None:
    return DriftRun.objects.filter(finished_at__isnull=False).first()


def recent_runs(limit: int = 10) -> list[DriftRun]:
    return list(DriftRun.objects.all()[:limit])


def findings(*, user, run: DriftRun, kind: str = "", server: str = "") -> list[DriftFinding]:
    """The run's findings the user may see: everything for administrators and global auditors, their teams'
    servers for a team auditor."""
    rows = DriftFinding.objects.filter(run=run)
    if kind:
        rows = rows.filter(kind=kind)
    if server:
        rows = rows.filter(server_name__icontains=server)
    rows = list(rows)
    if not sees_everything(user):
        scope = server_scope_for(user)  # the servers of the teams they belong to, approve for or audit
        rows = [f for f in rows if scope.combined.owns(server_id=f.server_id, name=f.server_name, vpc_id=f.vpc_id)]
    return _linked(user, rows)


def sees_everything(user) -> bool:
    return bool(user.is_staff or access_for(user).global_auditor)


def _linked(user, rows: list[DriftFinding]) -> list[DriftFinding]:
    """Each finding's `request_link`: whether its request is one this user may open (else no link to a 404)."""
    requests = InterfaceRequest.objects.in_bulk({f.request_id for f in rows if f.request_id})
    for finding in rows:
        request = requests.get(finding.request_id) if finding.request_id else None
        finding.request_link = request is not None and audience_allows(user, request, Purpose.VIEW)
    return rows


def counts(rows) -> dict[str, int]:
    by_kind = Counter(f.kind for f in rows)
    return {label: by_kind.get(value, 0) for value, label in DriftKind.choices}


EXPORT_COLUMNS = (
    "run",
    "run_started_at",
    "kind",
    "server_id",
    "server_name",
    "port_id",
    "addresses",
    "request_id",
    "detail",
)


def export_rows(run, findings):
    """The findings as the CSV export's rows (EXPORT_COLUMNS)."""
    for f in findings:
        yield (
            run.pk,
            run.started_at.isoformat(),
            f.kind,
            f.server_id,
            f.server_name,
            f.port_id,
            " ".join(f.addresses),
            f.request_id or "",
            f.detail,
        )
