"""The drift report for auditors and admins: the latest run's findings, filters, CSV export, and "scan now"."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from portal.audit.export import CONTENT_TYPES, safe_csv
from portal.audit.services import audit_access_denied

from . import selectors, services
from .models import DriftKind


def _require_reviewer(request):
    if not selectors.may_review(request.user):
        audit_access_denied(user=request.user, path=request.path)
        raise Http404(_("Only auditors and administrators can read the drift report."))


def _findings(request):
    """The latest run and its findings, as the report's filters (kind, server name) and the user's scope ask."""
    kind = request.GET.get("kind", "")
    kind = kind if kind in DriftKind.values else ""
    server = request.GET.get("server", "").strip()[:100]
    run = selectors.latest_run()
    findings = selectors.findings(user=request.user, run=run, kind=kind, server=server) if run else []
    return kind, server, run, findings


@login_required
@require_GET
def report(request):
    _require_reviewer(request)
    kind, server, run, findings = _findings(request)
    return render(
        request,
        "drift/report.html",
        {
            "run": run,
            "findings": findings,
            "kind": kind,
            "server": server,
            "kinds": DriftKind.choices,
            "runs": selectors.recent_runs(),
            "counts": selectors.counts(findings),
            "everything": selectors.sees_everything(request.user),
            "visible": len(selectors.findings(user=request.user, run=run))
            if run and (kind or server)
            else len(findings),
        },
    )


@login_required
@require_POST
def scan_now(request):
    _require_reviewer(request)
    services.drift_scan_start(user=request.user)
    messages.success(request, _("Drift scan started; reload this page in a moment for its findings."))
    return redirect("drift_report")


@login_required
@require_GET
def export_csv(request):
    _require_reviewer(request)
    run, findings = _findings(request)[2:]
    response = StreamingHttpResponse(
        safe_csv(selectors.EXPORT_COLUMNS, selectors.export_rows(run, findings)), content_type=CONTENT_TYPES["csv"]
    )
    response["Content-Disposition"] = f'attachment; filename="drift-run-{run.pk if run else 0}.csv"'
    return response
