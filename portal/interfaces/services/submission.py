"""Submitting a request: the live check, the policy's decision, and the record with its audit event.

Generic over operations: `request_submit` validates through the operation, records what it says, and lets the
lifecycle write what follows (the approvers told, or the automatic approval and its execution).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from portal.approvals.policies import PolicyDecision, policy_decide
from portal.audit.events import AuditAction
from portal.audit.models import Outcome
from portal.audit.services import record_event
from portal.core.roles import can_request
from portal.core.scp import scp_client
from portal.core.version_watch import version_refusal
from portal.scp.client import ScpClient
from portal.teams.models import Team
from portal.teams.selectors import requesting_team

from ..access import deny, ensure_owned
from ..errors import AttachRejected, ScpUnavailable
from ..lifecycle import record_submission
from ..models import FixedIpHold, InterfaceRequest, Mode, Status
from ..operations.base import Operation
from ..registry import operation_named
from ..selectors import attach_that_made, canonical_address, hold_problem
from .checks import BY_PREVIEW, BY_SUBMISSION, check_fields, check_open, check_record, check_seal
from .common import _now

MAX_JUSTIFICATION = 1000


def request_preview(*, request: InterfaceRequest | None = None, plan=None, client=None) -> dict[str, Any]:
    """Exactly what the portal will send: method, path, version header and JSON body (of a request, or of a
    validated plan before any request exists)."""
    client = client or scp_client(audited=False)
    if request is not None:
        call, version = request.operation.call(request), request.api_version
    else:
        call, version = operation_named(plan.action).plan_call(plan), settings.CONFIG.scp_virtualserver_api_version
    return {
        "method": call.method,
        "path": call.path,
        "url": client.url_for("virtualserver", call.path),
        "api_version": f"virtualserver {version}",
        "body": call.body,
    }


def _refuse_while_version_refuses() -> None:
    refusal = version_refusal()
    if refusal is not None:
        raise ScpUnavailable(_("Nothing can be sent to SCP right now. %(why)s") % {"why": refusal})


def operation_validate(
    *, user, operation: Operation, params: dict[str, Any], stage: str = "preview", client: ScpClient | None = None
):
    """Validate a proposed operation on a server the user may request on: nothing while SCP's API version refuses
    calls, the server's ownership checked before anything about it is told (a stranger's server is NotFound,
    audited), and a refusal audited with its reasons."""
    _refuse_while_version_refuses()
    server_id = params["server_id"]

    def owned(server):
        ensure_owned(user=user, server_id=server_id, server=server, to_request=True)

    try:
        return operation.validate(client=client or scp_client(), params=params, owner_check=owned, viewer=user)
    except AttachRejected as exc:
        attach_input_rejected(
            user=user, server_id=server_id, stage=stage, errors=exc.errors, submitted=operation.audited_input(params)
        )
        raise


def operation_preview(*, user, operation: Operation, params: dict[str, Any], client: ScpClient | None = None):
    """Validate a proposal for its preview: the plan, and the sealed check its Confirm submits on (see
    services.checks)."""
    at = _now()
    plan = operation_validate(user=user, operation=operation, params=params, stage="preview", client=client)
    return plan, check_seal(user=user, operation=operation, params=params, plan=plan, at=at)


def attach_preview(*, user, server_id: str, client: ScpClient | None = None, **params):
    """Preview an attach (mode, subnet_id, port_id, fixed_ips): its plan and sealed check."""
    return operation_preview(
        user=user, operation=operation_named("attach"), params={"server_id": server_id, **params}, client=client
    )


def detach_preview(*, user, server_id: str, port_id: str, client: ScpClient | None = None):
    """Preview a detach of the interface `port_id`: its plan and sealed check."""
    params = {"server_id": server_id, "port_id": port_id}
    return operation_preview(user=user, operation=operation_named("detach"), params=params, client=client)


def attach_validate(*, user, server_id: str, stage: str = "preview", client: ScpClient | None = None, **params):
    """Validate a proposed attach (mode, subnet_id, port_id, fixed_ips); see `operation_validate`."""
    return operation_validate(
        user=user,
        operation=operation_named("attach"),
        params={"server_id": server_id, **params},
        stage=stage,
        client=client,
    )


def detach_validate(*, user, server_id: str, port_id: str, stage: str = "preview", client: ScpClient | None = None):
    """Validate a proposed detach of the interface `port_id`; see `operation_validate`."""
    params = {"server_id": server_id, "port_id": port_id}
    return operation_validate(user=user, operation=operation_named("detach"), params=params, stage=stage, client=client)


def request_submit(
    *,
    operation: Operation,
    requester,
    idempotency_key: uuid.UUID,
    params: dict[str, Any],
    justification: str,
    client: ScpClient | None = None,
    check: str = "",
) -> InterfaceRequest:
    """Validate and record a request, decide by policy whether it needs approval, and start it if not.

    The same idempotency key from the same requester always yields the same request (a double click, a
    re-posted page). `check` is its preview's sealed check: while fresh, SCP is not asked again (see
    services.checks).
    """
    existing = InterfaceRequest.objects.filter(requester=requester, idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    if not can_request(requester):
        raise deny(user=requester, action=AuditAction.SUBMIT_REFUSED, reason=_("You may not submit requests."))
    try:
        plan, at, by = _submission_check(requester, operation, params, check, client)
    except AttachRejected:
        # A twin with the same key (a second click, a retried call) may have been recorded meanwhile, and holds
        # what this one asks for: the answer is that request, not a refusal naming it.
        twin = InterfaceRequest.objects.filter(requester=requester, idempotency_key=idempotency_key).first()
        if twin is not None:
            return twin
        raise
    fields = {"action": operation.name, **operation.record_fields(plan), **check_fields(operation, plan, at=at, by=by)}
    return _record_request(
        requester=requester, idempotency_key=idempotency_key, plan=plan, fields=fields, justification=justification
    )


def _submission_check(requester, operation: Operation, params: dict[str, Any], check: str, client):
    """The plan a submission stands on, when its check was made, and by what: the preview's sealed check while
    it stands (what the portal decides itself decided again now), else a live check."""
    opened = check_open(check, user=requester, operation=operation, params=params) if check else None
    if opened is None:
        at = _now()
        plan = operation_validate(user=requester, operation=operation, params=params, stage="submit", client=client)
        return plan, at, BY_SUBMISSION
    plan, at = opened
    _refuse_while_version_refuses()
    ensure_owned(user=requester, server_id=params["server_id"], server=plan.server, to_request=True)
    return plan, at, BY_PREVIEW


def interface_request_submit(
    *,
    requester,
    idempotency_key: uuid.UUID,
    server_id: str,
    mode: str,
    justification: str,
    subnet_id: str = "",
    port_id: str = "",
    fixed_ips: list[str] | None = None,
    client: ScpClient | None = None,
    check: str = "",
) -> InterfaceRequest:
    """Submit an attach: a new port on `subnet_id` (with optional fixed IPs), or the existing `port_id`."""
    params = {
        "server_id": server_id,
        "mode": mode,
        "subnet_id": subnet_id,
        "port_id": port_id,
        "fixed_ips": fixed_ips or [],
    }
    return request_submit(
        operation=operation_named("attach"),
        requester=requester,
        idempotency_key=idempotency_key,
        params=params,
        justification=justification,
        client=client,
        check=check,
    )


def detach_request_submit(
    *,
    requester,
    idempotency_key: uuid.UUID,
    server_id: str,
    port_id: str,
    justification: str,
    client: ScpClient | None = None,
    check: str = "",
) -> InterfaceRequest:
    """Submit a detach under the same policies, approvals and lifecycle as an attach."""
    return request_submit(
        operation=operation_named("detach"),
        requester=requester,
        idempotency_key=idempotency_key,
        params={"server_id": server_id, "port_id": port_id},
        justification=justification,
        client=client,
        check=check,
    )


def _record_request(*, requester, idempotency_key, plan, fields: dict, justification: str) -> InterfaceRequest:
    """Decide by policy and record a validated request; start it at once when no approval is needed."""
    team, decision = _team_and_policy(requester, plan)
    try:
        return _insert(requester, idempotency_key, plan, fields, justification, team=team, decision=decision)
    except IntegrityError:
        # The same key raced in from a second click: the first one won; answer with its request.
        existing = InterfaceRequest.objects.filter(requester=requester, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
        # Or another request took one of the fixed IPs between validation and this commit.
        held = {
            f"fixed_ip_{i}": [problem]
            for i, address in enumerate(fields.get("fixed_ips") or [])
            if (problem := hold_problem(subnet_id=fields["subnet_id"], address=address, viewer=requester))
        }
        if not held:
            raise
        submitted = {"fixed_ips": list(fields["fixed_ips"]), "subnet_id": fields["subnet_id"]}
        attach_input_rejected(
            user=requester, server_id=plan.server.id, stage="submit", errors=held, submitted=submitted
        )
        raise AttachRejected(held) from None


def _team_and_policy(requester, plan) -> tuple[Team, PolicyDecision]:
    """The team the request is made for, and what its policy asks; refused (audited) when nobody could decide."""
    team = requesting_team(requester, plan.server)
    if team is None:
        raise deny(
            user=requester,
            action=AuditAction.SUBMIT_REFUSED,
            target=plan.server.id,
            reason=_("None of your teams owns this server, so you cannot request on it."),
        )
    decision = policy_decide(plan=plan, team=team)
    if decision.unreachable:
        raise deny(
            user=requester, action=AuditAction.SUBMIT_REFUSED, target=plan.server.id, reason=decision.unreachable
        )
    return team, decision


@transaction.atomic
def _insert(requester, idempotency_key, plan, fields: dict, justification: str, *, team, decision) -> InterfaceRequest:
    """The request, its fixed-IP holds and its submission (with what follows), in one transaction."""
    now = _now()
    request = InterfaceRequest(
        requester=requester,
        idempotency_key=idempotency_key,
        created_at=now,
        updated_at=now,
        server_id=plan.server.id,
        server_name=plan.server.name[:255],
        vpc_id=plan.server.vpc_id or "",
        **fields,
        justification=justification[:MAX_JUSTIFICATION],
        api_version=settings.CONFIG.scp_virtualserver_api_version,
        team=team,
        status=Status.PENDING_APPROVAL,
        policy_name=decision.policy_name,
        approval_steps=decision.steps,
        expires_at=now + decision.expires_after,
    )
    request.save(force_insert=True)
    request.submitted_now = True
    # Unique per (subnet, address): of two requests racing for one address, one commits.
    FixedIpHold.objects.bulk_create(
        FixedIpHold(request=request, subnet_id=request.subnet_id, address=canonical_address(address))
        for address in request.fixed_ips or []
    )
    return record_submission(
        request,
        actor=requester,
        auto_approve=decision.auto_approve,
        payload={
            "action": request.action,
            "parameters": request_preview(request=request),
            "justification": request.justification,
            "team": team.name,
            "policy": decision.policy_name,
            "decision": "auto_approve" if decision.auto_approve else decision.summary,
            "steps": decision.steps,
            "parameters_digest": request.parameters_digest,
            "check": check_record(fields["checked_at"], fields["check_facts"]["by"]),
        },
    )


def attach_input_rejected(
    *, user, server_id: str, stage: str, errors: dict[str, list[str]], submitted: dict[str, Any]
) -> None:
    """Keep the detail of a rejected attach in the audit log (the requester sees the messages)."""
    record_event(
        action=AuditAction.INVALID,
        outcome=Outcome.FAILURE,
        payload={"stage": stage[:20], "errors": errors, "input": submitted},
        target=server_id[:128],
        actor=user,
    )


def detach_effect(*, server_id: str, port_id: str) -> str:
    """What SCP does with the port when it is detached, as far as the portal's own records tell."""
    attach = attach_that_made(server_id=server_id, port_id=port_id)
    if attach is not None and attach.mode == Mode.SUBNET:
        return _("SCP deletes this port and frees its addresses: request %(pk)s created it on subnet %(subnet)s.") % {
            "pk": attach.pk,
            "subnet": attach.subnet_name or attach.subnet_id,
        }
    if attach is not None:
        return _("SCP keeps this port, unattached, for reuse: it existed before request %(pk)s attached it.") % {
            "pk": attach.pk
        }
    return _(
        "SCP deletes a port it created when the interface was attached by subnet, and keeps, unattached, a port "
        "that existed before. The portal did not attach this interface, so which it is depends on how it was "
        "made."
    )
