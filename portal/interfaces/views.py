"""Views parse input, authorize, call one service or selector, and render. No SCP calls or writes here."""

from __future__ import annotations

import re
from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from portal.approvals.selectors import approval_overview, decision_context
from portal.audit.events import AuditAction
from portal.audit.receipts import ReceiptUnavailable, receipt_issue
from portal.audit.selectors import timeline_for_request
from portal.audit.words import timeline_lines
from portal.core.errors import SCP_DOWN
from portal.core.roles import can_request
from portal.interfaces.services.decisions import may_decide
from portal.scp.errors import ScpBadRequest, ScpError
from portal.teams.selectors import server_scope_for

from . import selectors, services
from .access import Purpose, audience_allows, interface_request_for
from .errors import AttachRejected, NotAllowed, ScpUnavailable
from .forms import MAX_FIXED_IPS, AttachForm, DetachForm
from .rules import repeated
from .watch import latest_event, watch_for

# SCP's marker (an id), or the listing's position in each of several sources (ids joined by "~"; "_", ".").
MARKER_RE = re.compile(r"^[A-Za-z0-9._~-]{1,2000}$")
MAX_TRAIL = 30  # pages a "Previous" link can walk back; older ones are reached from "First page"
MAX_TRAIL_CHARS = 4000  # and no more than this much URL


def _require_requester(request, *, target: str = "") -> None:
    if not can_request(request.user):
        raise services.deny(
            user=request.user, action=AuditAction.REQUEST_ACCESS, reason=_("Requester role needed."), target=target
        )


def _scp_error_page(request, message: str | Promise, status: int = 503):
    return render(request, "core/problem.html", {"message": message}, status=status)


def _requester_page(view):
    """GET or POST, by someone with the requester role (a refusal is audited and answered 403)."""

    @require_http_methods(["GET", "POST"])
    @wraps(view)
    def wrapped(request, server_id: str, *args, **kwargs):
        try:
            _require_requester(request, target=server_id)
        except NotAllowed as exc:
            return _scp_error_page(request, str(exc), status=403)
        return view(request, server_id, *args, **kwargs)

    return wrapped


@login_required
@require_GET
def server_list(request):
    name = request.GET.get("q", "").strip()[:100]
    state = request.GET.get("state", "").upper()
    state = state if state in selectors.SERVER_STATES else ""
    marker = request.GET.get("marker", "")
    marker = marker if MARKER_RE.match(marker) else ""
    back = _marker_trail(request.GET.get("back", "")) if marker else []
    context = {
        "q": name,
        "state": state,
        "states": selectors.SERVER_STATES,
        "marker": marker,
        "no_teams": server_scope_for(request.user).combined.empty,
    }
    try:
        try:
            page = selectors.server_list(user=request.user, name=name, state=state, marker=marker)
        except ScpBadRequest:
            if not marker:
                raise
            # A marker SCP no longer knows (the server was deleted, or the link was edited): the first page.
            marker, back = "", []
            page = selectors.server_list(user=request.user, name=name, state=state)
        context["page"] = page
    except ScpError:
        context["scp_error"] = SCP_DOWN  # the list says it in place, keeping the search form
    else:
        context["pager"] = _pager_links(name=name, state=state, marker=marker, back=back, next_marker=page.next_marker)
    template = "interfaces/server_list.html#results" if request.htmx else "interfaces/server_list.html"
    return render(request, template, context)


def _marker_trail(raw: str) -> list[str]:
    """The markers of the pages between the first one and this one, oldest first; anything odd yields none."""
    if len(raw) > MAX_TRAIL_CHARS:
        return []
    trail = raw.split(",")[-MAX_TRAIL:] if raw else []
    return trail if all(MARKER_RE.match(m) for m in trail) else []


def _trail_text(trail) -> str:
    """The newest markers of the trail that fit the URL budget (older pages are reached from "First page")."""
    kept: list[str] = []
    for marker in reversed(list(trail)[-MAX_TRAIL:]):
        if sum(len(m) + 1 for m in kept) + len(marker) > MAX_TRAIL_CHARS:
            break
        kept.insert(0, marker)
    return ",".join(kept)


def _pager_links(*, name: str, state: str, marker: str, back: list[str], next_marker: str | None) -> dict[str, str]:
    """SCP pages forward only, by marker; the way back travels in the URL as the trail of earlier markers."""

    def url(at: str = "", trail: tuple[str, ...] | list[str] = ()) -> str:
        query = {"q": name, "state": state}
        if at:
            query["marker"] = at
            if trail:
                query["back"] = _trail_text(trail)
        return "?" + urlencode(query)

    links = {}
    if marker:
        links["first"] = url()
        # A cut or tampered trail leads back to the first page, never to an error.
        links["previous"] = url(back[-1], back[:-1]) if back else links["first"]
    if next_marker:
        links["next"] = url(next_marker, [*back, marker] if marker else [])
    return links


@login_required
@require_GET
def server_detail(request, server_id: str):
    detail = selectors.server_detail(user=request.user, server_id=server_id)
    return render(request, "interfaces/server_detail.html", {"detail": detail, "server": detail.server})


def _render_attach(request, *, server, form, options=None, **extra):
    context = {"server": server, "options": options, "form": form, **extra}
    template = "interfaces/attach.html#attach-panel" if request.htmx else "interfaces/attach.html"
    return render(request, template, context)


def _form_from_post(post) -> AttachForm:
    """An unbound form carrying what was posted, for re-display without showing errors."""
    initial = {k: post.get(k, "") for k in ("mode", "subnet_id", "port_id", "justification", "idempotency_key")}
    form = AttachForm(initial=initial)
    form.fixed_ip_rows = [str(v)[:100] for v in post.getlist("fixed_ip")]
    return form


@login_required
@_requester_page
def attach(request, server_id: str):
    """The attach form. GET shows it; POST previews or confirms (or edits the fixed-IP rows in place)."""
    action = request.POST.get("action", "preview") if request.method == "POST" else "show"
    if action in ("preview", "confirm"):
        return _attach_submit(request, server_id, action)
    if action == "show":
        form = AttachForm(
            initial=selectors.resubmission_initial(user=request.user, request_id=request.GET.get("again", ""))
        )
        form.fixed_ip_rows = list(form.initial.pop("fixed_ips", []))
    else:
        form = _form_from_post(request.POST)
        if action == "add_ip":
            form.add_row()
        elif action.startswith("remove_ip:"):
            index = action.partition(":")[2]
            form.remove_row(int(index) if index.isdigit() else -1)
        form.fixed_ip_checks = _row_checks(request.user, server_id, form)
    return _show_attach_form(request, server_id, form)


def _show_attach_form(request, server_id: str, form: AttachForm):
    """Render the form with the server's subnets and unattached ports to choose from."""
    options = selectors.attach_options(user=request.user, server_id=server_id)
    form.set_options(subnets=options.subnets, ports=options.ports)
    if request.htmx and options.unavailable_reason:
        # The server cannot take an interface any more: the whole page says why (not a page inside the panel).
        return HttpResponseClientRedirect(request.path)
    if request.method == "GET" or options.unavailable_reason:
        return render(request, "interfaces/attach.html", {"server": options.server, "options": options, "form": form})
    return _render_attach(request, server=options.server, form=form, options=options)


def _attach_submit(request, server_id: str, action: str):
    # The form checks syntax; the service checks against SCP in one parallel round of calls. The form's
    # option lists are fetched only when the form has to be shown again.
    form = AttachForm(request.POST)
    if not form.is_valid():
        errors, submitted = form.rejection_detail()
        services.attach_input_rejected(
            user=request.user, server_id=server_id, stage=action, errors=errors, submitted=submitted
        )
        return _show_attach_form(request, server_id, form)
    data = form.cleaned_data
    params = {"server_id": server_id, **form.attach_params()}
    try:
        if action == "confirm":
            interface_request = services.interface_request_submit(
                requester=request.user,
                idempotency_key=data["idempotency_key"],
                justification=data["justification"],
                check=request.POST.get("check", ""),
                **params,
            )
            url = reverse("request_detail", args=[interface_request.pk])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
        plan, check = services.attach_preview(user=request.user, **params)
    except AttachRejected as exc:
        form.apply_service_errors(exc.errors)
        return _show_attach_form(request, server_id, form)
    except (ScpUnavailable, NotAllowed) as exc:
        form.add_error(None, str(exc))
        return _show_attach_form(request, server_id, form)
    preview = services.request_preview(plan=plan)
    return _render_attach(request, server=plan.server, form=form, preview=preview, plan=plan, check=check)


@login_required
@_requester_page
def detach(request, server_id: str, port_id: str):
    """Detach one interface: GET shows the exact DELETE and what happens to the port; POST submits it."""
    form = DetachForm(request.POST if request.method == "POST" else None)
    context = {"form": form, "port_id": port_id, "server_id": server_id}
    try:
        if request.method == "POST" and form.is_valid():
            interface_request = services.detach_request_submit(
                requester=request.user,
                idempotency_key=form.cleaned_data["idempotency_key"],
                server_id=server_id,
                port_id=port_id,
                justification=form.cleaned_data["justification"],
                check=request.POST.get("check", ""),
            )
            return redirect("request_detail", pk=interface_request.pk)
        plan, check = services.detach_preview(user=request.user, server_id=server_id, port_id=port_id)
        context.update(
            plan=plan,
            check=check,
            server=plan.server,
            preview=services.request_preview(plan=plan),
            effect=services.detach_effect(server_id=server_id, port_id=port_id),
            subnet=selectors.subnet_label(subnet_id=plan.interface.subnet_id or ""),
        )
    except AttachRejected as exc:
        context["refused"] = exc.summary
    except (ScpUnavailable, NotAllowed) as exc:
        context["refused"] = str(exc)
    return render(request, "interfaces/detach.html", context, status=200 if "refused" not in context else 409)


def _ip_check(user, server_id: str, subnet_id: str, address: str, *, earlier) -> tuple[str, bool]:
    """One fixed-IP row's check: given before in an earlier row, or SCP's word on the address in the subnet."""
    if address and selectors.canonical_address(address) in {selectors.canonical_address(v) for v in earlier if v}:
        return repeated(address), False  # as the form says it, for the later row
    if not (address and subnet_id):
        return "", False
    try:
        return selectors.fixed_ip_check(user=user, server_id=server_id, subnet_id=subnet_id, address=address)
    except ScpError:
        return _("Could not check this address with SCP right now; it will be checked again on preview."), False


def _row_checks(user, server_id: str, form: AttachForm) -> dict[int, tuple[str, bool]]:
    """Every filled row's check, for a form drawn again (a row added or removed): results stay with their rows."""
    subnet_id = str(form.initial.get("subnet_id", ""))[:64]
    rows = [row.strip() for row in form.fixed_ip_rows]
    return {i: _ip_check(user, server_id, subnet_id, row, earlier=rows[:i]) for i, row in enumerate(rows) if row}


@login_required
@require_GET
def check_ip(request, server_id: str):
    """Instant feedback for one fixed-IP row: syntax, range and whether the address is free."""
    subnet_id = request.GET.get("subnet_id", "")[:64]
    # htmx sends the row being checked first, then every row of the form in page order (without it again), and
    # `row`: its position. An address given in an earlier row is "given more than once", as the form says.
    values = [value.strip()[:100] for value in request.GET.getlist("fixed_ip")][: MAX_FIXED_IPS + 1]
    address, others = (values[0], values[1:]) if values else ("", [])
    row = request.GET.get("row", "")
    earlier = others[: int(row) if row.isdigit() else 0]
    message, ok = _ip_check(request.user, server_id, subnet_id, address, earlier=earlier)
    return render(request, "interfaces/attach.html#ip-check", {"message": message, "ok": ok})


@login_required
@require_GET
def my_requests(request):
    requests_page = selectors.requests_of(user=request.user)[:200]
    return render(request, "interfaces/my_requests.html", {"requests": requests_page})


@login_required
@require_GET
def request_detail(request, pk: int):
    seen = latest_event(pk)  # before the request: see watch_for
    interface_request = interface_request_for(user=request.user, pk=pk, purpose=Purpose.VIEW)
    context = {
        "req": interface_request,
        "timeline": timeline_lines(timeline_for_request(request_id=interface_request.pk)),
        "preview": services.request_preview(request=interface_request),
        "decision": _decision_panel(request, interface_request),
        "watch": None if interface_request.is_final else watch_for(request, request_id=pk, seen=seen),
    }
    if not (request.htmx and request.GET.get("fragment") == "status") or interface_request.is_final:
        try:
            context["guest"] = selectors.guest_setup(interface_request)
        except ScpError:
            context["guest"] = None
    if not context["decision"]:  # the decision panel shows the steps itself
        context.update(approval_overview(interface_request))
    if request.htmx and request.GET.get("fragment") == "status":
        return render(request, "interfaces/request_detail.html#status", context)
    return render(request, "interfaces/request_detail.html", context)


@login_required
@require_GET
def request_receipt(request, pk: int):
    """The request's receipt (.tlog-proof): its audit events proven in a witnessed checkpoint, for offline checks."""
    interface_request = interface_request_for(user=request.user, pk=pk, purpose=Purpose.VIEW)
    try:
        receipt = receipt_issue(interface_request.pk)
    except ReceiptUnavailable as exc:
        messages.info(request, str(exc))
        return redirect("request_detail", pk=interface_request.pk)
    response = HttpResponse(receipt.text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{receipt.filename}"'
    return response


def _decision_panel(request, interface_request):
    """Approve/Reject for an approver who may decide this request; nothing for anyone else."""
    if not audience_allows(request.user, interface_request, Purpose.DECIDE):
        return None
    if may_decide(user=request.user, request=interface_request) is not None:
        return None
    return decision_context(interface_request, request.user)


@login_required
@require_http_methods(["GET", "POST"])
def request_cancel(request, pk: int):
    """GET asks "cancel this request?"; only the confirming POST cancels."""
    interface_request = interface_request_for(user=request.user, pk=pk, purpose=Purpose.CANCEL)
    if request.method == "GET" or request.POST.get("confirm") != "yes":
        return render(request, "interfaces/cancel_confirm.html", {"req": interface_request})
    try:
        services.interface_request_cancel(request=interface_request, user=request.user)
        messages.success(request, _("The request was cancelled."))
    except NotAllowed as exc:
        messages.error(request, str(exc))
    return redirect("request_detail", pk=pk)
