"""Attach requests: preview the exact call, submit (idempotent per key and user), read, list, cancel."""

from __future__ import annotations

import uuid

from django.http import HttpResponse
from django.utils.translation import gettext as _
from ninja import Header, Query, Router
from ninja import Status as Answer
from ninja.errors import HttpError

from portal.audit.receipts import ReceiptUnavailable, receipt_issue
from portal.interfaces import selectors, services
from portal.interfaces.access import Purpose, interface_request_for
from portal.interfaces.errors import AttachRejected, NotAllowed
from portal.interfaces.models import InterfaceRequest, Status
from portal.interfaces.operations.attach import AttachParameters
from portal.interfaces.registry import operation_named
from portal.interfaces.rules import canonical_address, justification_problem

from . import presenters
from .auth import require_scope
from .models import Scope
from .schemas import AttachIn, DetachIn, DetachPreviewOut, PreviewOut, Problem, RequestOut, RequestPageOut

router = Router(tags=["attach requests"])
PAGE_SIZE = 50


def _validated(request, server_id: str, payload: AttachIn, *, stage: str) -> AttachParameters:
    """The attach's parameters from the JSON body, with the form's own words; a refusal is audited as the form's
    is. A preview needs no justification; submitting does."""
    errors: dict[str, list[str]] = {}
    try:
        parameters = AttachParameters.parse(
            server_id=server_id,
            mode=str(payload.mode),
            subnet_id=payload.subnet_id,
            port_id=payload.port_id,
            fixed_ips=payload.fixed_ips,
        )
    except AttachRejected as exc:
        errors.update(exc.errors)
    problem = justification_problem(payload.justification, required=stage == "submit")
    if problem:
        errors["justification"] = [problem]
    if errors:
        submitted = {
            "mode": str(payload.mode),
            "subnet_id": payload.subnet_id,
            "port_id": payload.port_id,
            "fixed_ips": payload.fixed_ips,
        }
        services.attach_input_rejected(
            user=request.user,
            server_id=server_id,
            stage=stage,
            errors=errors,
            submitted=operation_named("attach").audited_input(submitted),
        )
        raise AttachRejected(errors)
    return parameters


@router.post("/servers/{server_id}/attach-preview", response=PreviewOut, summary="Preview an attach")
def attach_preview(request, server_id: str, payload: AttachIn):
    """Check an attach as the form's Preview does, and show the exact call. Nothing is recorded but the check.
    Scope: `request`."""
    require_scope(request, Scope.REQUEST)
    parameters = _validated(request, server_id, payload, stage="preview")
    plan, check = services.attach_preview(user=request.user, server_id=server_id, **parameters.as_params())
    return {
        "server": presenters.server_out(plan.server),
        "call": presenters.call_out(services.request_preview(plan=plan)),
        "check": check,
    }


def _same_parameters(existing: InterfaceRequest, server_id: str, params: dict) -> bool:
    def canonical(addresses):
        return sorted(canonical_address(a) for a in addresses)

    return (existing.server_id, existing.mode, existing.subnet_id, existing.port_id) == (
        server_id,
        params["mode"],
        params["subnet_id"],
        params["port_id"],
    ) and canonical(existing.fixed_ips or []) == canonical(params["fixed_ips"])


@router.post(
    "/servers/{server_id}/attach-requests",
    response={200: RequestOut, 201: RequestOut, 409: Problem},
    summary="Submit an attach request",
)
def attach_submit(
    request,
    response: HttpResponse,
    server_id: str,
    payload: AttachIn,
    idempotency_key: uuid.UUID | None = Header(
        None,
        alias="Idempotency-Key",
        description="A UUID: the same key from the same user always yields the same request (201 first, then 200).",
    ),
):
    """Submit as the form's Confirm does: policies decide whether approvers must agree. Scope: `request`."""
    require_scope(request, Scope.REQUEST)
    key = idempotency_key or uuid.uuid4()
    params = _validated(request, server_id, payload, stage="submit").as_params()
    return _idempotent(
        request,
        response,
        key,
        same=lambda existing: _same_parameters(existing, server_id, params),
        create=lambda: services.interface_request_submit(
            requester=request.user,
            idempotency_key=key,
            server_id=server_id,
            justification=payload.justification.strip(),
            check=payload.check,
            **params,
        ),
    )


def _idempotent(request, response, key: uuid.UUID, *, same, create):
    """One request per key and user: 201 and the new request, 200 and the same one again, 409 for a key reused
    with other parameters."""
    # (a twin raced in with the same key comes back from create() as the request it recorded)
    created = selectors.request_by_idempotency_key(user=request.user, key=key) or create()
    if not created.submitted_now and not same(created):
        raise HttpError(
            409,
            f"This Idempotency-Key was used for request {created.pk}, with other parameters; "
            "use a new key for a new request.",
        )
    response["Location"] = f"/api/v1/attach-requests/{created.pk}"
    return Answer(201 if created.submitted_now else 200, presenters.request_out(created, request))


def _justified(request, server_id: str, text: str) -> str:
    """The form's justification rules, with its wording."""
    problem = _("Say why this interface should be detached.") if not text.strip() else None
    problem = problem or justification_problem(text, required=True)
    if problem:
        errors = {"justification": [problem]}
        services.attach_input_rejected(
            user=request.user, server_id=server_id, stage="submit", errors=errors, submitted={"action": "detach"}
        )
        raise AttachRejected(errors)
    return text.strip()


@router.post("/servers/{server_id}/detach-preview", response=DetachPreviewOut, summary="Preview a detach")
def detach_preview(request, server_id: str, payload: DetachIn):
    """Check a detach as the detach page does, and show the exact DELETE and what happens to the port.
    Scope: `request`."""
    require_scope(request, Scope.REQUEST)
    plan, check = services.detach_preview(user=request.user, server_id=server_id, port_id=payload.port_id)
    return {
        "server": presenters.server_out(plan.server),
        "call": presenters.call_out(services.request_preview(plan=plan)),
        "effect": services.detach_effect(server_id=server_id, port_id=payload.port_id),
        "check": check,
    }


@router.post(
    "/servers/{server_id}/detach-requests",
    response={200: RequestOut, 201: RequestOut, 409: Problem},
    summary="Submit a detach request",
)
def detach_submit(
    request,
    response: HttpResponse,
    server_id: str,
    payload: DetachIn,
    idempotency_key: uuid.UUID | None = Header(None, alias="Idempotency-Key", description="As for an attach."),
):
    """Submit a detach under the same policies, approvals and lifecycle as an attach. Scope: `request`."""
    require_scope(request, Scope.REQUEST)
    justification = _justified(request, server_id, payload.justification)
    key = idempotency_key or uuid.uuid4()
    return _idempotent(
        request,
        response,
        key,
        same=lambda existing: (
            (existing.action, existing.server_id, existing.port_id) == ("detach", server_id, payload.port_id)
        ),
        create=lambda: services.detach_request_submit(
            requester=request.user,
            idempotency_key=key,
            server_id=server_id,
            port_id=payload.port_id,
            justification=justification,
            check=payload.check,
        ),
    )


@router.get("/attach-requests", response=RequestPageOut, summary="My requests")
def my_requests(
    request,
    status: Status | None = Query(None),
    before: int | None = Query(None, ge=1, le=2**62, description="The `next_before` of the page before."),
    limit: int = Query(PAGE_SIZE, ge=1, le=200),
):
    """Your own requests, newest first. Scope: `read`."""
    require_scope(request, Scope.READ)
    rows = selectors.requests_of(user=request.user).select_related("requester", "team", "decided_by").order_by("-id")
    if status:
        rows = rows.filter(status=status)
    if before:
        rows = rows.filter(pk__lt=before)
    page = list(rows[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {
        "items": [presenters.request_out(r, request) for r in page],
        "next_before": page[-1].pk if more and page else None,
    }


@router.get("/attach-requests/{request_id}", response=RequestOut, summary="One request and what to poll")
def request_detail(request, response: HttpResponse, request_id: int):
    """A request you may see (yours, or your teams' as approver or auditor). While it can still change, the answer
    says when to ask again, in `poll.retry_after` and the Retry-After header. Scope: `read`."""
    require_scope(request, Scope.READ)
    interface_request = interface_request_for(user=request.user, pk=request_id, purpose=Purpose.VIEW)
    body = presenters.request_out(interface_request, request)
    if body["poll"]["retry_after"]:
        response["Retry-After"] = str(body["poll"]["retry_after"])
    return body


@router.get(
    "/attach-requests/{request_id}/receipt",
    response={409: Problem},
    summary="A receipt of its audit events",
    openapi_extra={
        "responses": {
            200: {
                "description": "One c2sp.org/tlog-proof per audit event of the request, against the newest witnessed "
                "checkpoint; `python -m portal.audit.receipt verify FILE --key KEY` checks it offline.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        }
    },
)
def request_receipt(request, request_id: int):
    """The request's receipt (`.tlog-proof`): each of its audit events with its inclusion proof and the signed,
    cosigned checkpoint. 409 while no such checkpoint covers its events yet. Scope: `read`."""
    require_scope(request, Scope.READ)
    interface_request = interface_request_for(user=request.user, pk=request_id, purpose=Purpose.VIEW)
    try:
        receipt = receipt_issue(interface_request.pk)
    except ReceiptUnavailable as exc:
        raise HttpError(409, str(exc)) from None
    response = HttpResponse(receipt.text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{receipt.filename}"'
    return response


@router.post("/attach-requests/{request_id}/cancel", response={200: RequestOut, 409: Problem}, summary="Cancel")
def request_cancel(request, request_id: int):
    """Withdraw your request while it is pending, or approved but not yet started. Scope: `request` (the
    token's: your own request stays yours to withdraw after you leave its team)."""
    require_scope(request, Scope.REQUEST, role_needed=False)
    interface_request = interface_request_for(user=request.user, pk=request_id, purpose=Purpose.CANCEL)
    try:
        services.interface_request_cancel(request=interface_request, user=request.user)
    except NotAllowed as exc:  # the requester's own request, in a state that cannot be cancelled any more
        raise HttpError(409, str(exc)) from None
    interface_request.refresh_from_db()
    return presenters.request_out(interface_request, request)
