"""Model and SCP objects as the API's answers."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone
from pydantic import ValidationError

from portal.approvals.selectors import approval_progress
from portal.interfaces.models import InterfaceRequest, Status
from portal.interfaces.services import request_preview
from portal.scp import schemas as scp

from . import schemas

# How long a client should wait before asking about a request again, by state.
RETRY_AFTER = {
    Status.PENDING_APPROVAL: (60, "approvers to decide"),
    Status.APPROVED: (3, "the portal's worker to send the call to SCP"),
    Status.EXECUTING: (2, "SCP to finish attaching the interface"),
    Status.UNKNOWN: (30, "reconciliation: SCP's answer was lost and the portal is checking the server"),
}


def server_out(server: scp.Server) -> dict:
    return {
        "id": server.id,
        "name": server.name,
        "state": server.state,
        "vpc_id": server.vpc_id,
        "locked": bool(server.locked),
        "created_at": server.created_at,
    }


def interface_out(interface: scp.InterfaceResponse) -> dict:
    return {
        "port_id": interface.port_id,
        "port_state": interface.port_state,
        "subnet_id": interface.subnet_id,
        "mac_addr": interface.mac_addr,
        "fixed_ips": interface.addresses,
        "is_default": interface.is_default,
    }


def subnet_out(subnet: scp.Subnet) -> dict:
    return {
        "id": subnet.id,
        "name": subnet.name,
        "cidr": subnet.cidr,
        "vpc_id": subnet.vpc_id,
        "state": subnet.state,
        "gateway_ip_address": subnet.gateway_ip_address,
    }


def port_out(port: scp.Port) -> dict:
    return {
        "id": port.id,
        "name": port.name,
        "subnet_id": port.subnet_id,
        "fixed_ip_address": port.fixed_ip_address,
        "mac_address": port.mac_address,
        "state": port.state,
    }


def call_out(preview: dict) -> dict:
    return {k: preview[k] for k in ("method", "path", "url", "api_version", "body")}


def poll_out(request: InterfaceRequest, now: dt.datetime | None = None) -> dict:
    if request.is_final:
        return {"final": True, "retry_after": None, "waiting_for": "nothing: the request has ended"}
    seconds, what = RETRY_AFTER.get(request.status, (5, "the portal"))
    if request.status == Status.APPROVED and request.next_attempt_at:
        wait = (request.next_attempt_at - (now or timezone.now())).total_seconds()
        seconds, what = max(1, int(wait) + 1), "the next attempt to reach SCP"
    return {"final": False, "retry_after": seconds, "waiting_for": what}


def _result(request: InterfaceRequest) -> dict | None:
    if not request.result:
        return None
    try:
        return interface_out(scp.InterfaceResponse.model_validate(request.result))
    except ValidationError:
        return None


def request_out(request: InterfaceRequest, http_request) -> dict:
    return {
        "id": request.pk,
        "action": request.action,
        "status": request.status,
        "status_label": request.get_status_display(),
        "status_reason": request.status_reason,
        "requester": request.requester.get_username(),
        "team": request.team.name if request.team_id else None,
        "server_id": request.server_id,
        "server_name": request.server_name,
        "mode": request.mode,
        "subnet_id": request.subnet_id,
        "subnet_name": request.subnet_name,
        "port_id": request.port_id,
        "port_name": request.port_name,
        "fixed_ips": list(request.fixed_ips or []),
        "justification": request.justification,
        "policy": request.policy_name,
        "created_at": request.created_at,
        "updated_at": request.updated_at,
        "expires_at": request.expires_at,
        "decided_by": request.decided_by.get_username() if request.decided_by_id else None,
        "decided_at": request.decided_at,
        "decision_comment": request.decision_comment,
        "call": call_out(request_preview(request=request)),
        "parameters_digest": request.parameters_digest,
        "steps": [
            {
                **step,
                "decisions": [
                    {
                        "user": d.user.get_username(),
                        "approve": d.approve,
                        "comment": d.comment,
                        "decided_at": d.decided_at,
                    }
                    for d in step["decisions"]
                ],
            }
            for step in approval_progress(request)
        ],
        "result": _result(request),
        "poll": poll_out(request),
        "page": http_request.build_absolute_uri(reverse("request_detail", args=[request.pk])),
    }


def event_out(event) -> dict:
    return {f: getattr(event, f) for f in schemas.AuditEventOut.model_fields}
