"""Detach: `DELETE /v1/servers/{id}/interfaces/{port_id}`. SCP deletes a port it created for the attach and keeps
one that existed before, unattached; the portal polls until the interface is gone."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from pydantic import BaseModel, ConfigDict

from portal.audit.events import AuditAction
from portal.audit.services import record_event, scp_expecting
from portal.scp.errors import ScpConflict, ScpError, ScpHttpError, ScpNotFound

from ..models import Action, InterfaceRequest, Mode
from ..selectors import attach_that_made, interface_busy_with
from ..validation import DetachPlan, validate_detach
from .base import Operation, ScpCall, Settlement, Undecided, not_applied, scp_refusal


class DetachParameters(BaseModel):
    model_config = ConfigDict(frozen=True)

    server_id: str
    port_id: str

    def call(self) -> ScpCall:
        return ScpCall("DELETE", f"/v1/servers/{self.server_id}/interfaces/{self.port_id}")


class DetachOperation(Operation):
    name = Action.DETACH.value
    intent_action = AuditAction.DETACH_INTENT
    plan_class = DetachPlan

    def validate(
        self, *, client, params: dict[str, Any], owner_check, exclude_pk: int | None = None, viewer=None
    ) -> DetachPlan:
        server_id = params["server_id"]
        return validate_detach(
            client=client,
            server_id=server_id,
            port_id=params.get("port_id", ""),
            owner_check=owner_check,
            busy_with=lambda p: interface_busy_with(server_id=server_id, port_id=p, exclude_pk=exclude_pk),
        )

    def record_fields(self, plan: DetachPlan) -> dict[str, Any]:
        interface = plan.interface
        return {
            "action": Action.DETACH,
            "mode": Mode.PORT,
            "port_id": interface.port_id,
            "port_name": ", ".join(interface.addresses)[:255],
            "subnet_id": interface.subnet_id or "",
            "fixed_ips": [],
        }

    def audited_input(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"action": "detach", "port_id": str(params.get("port_id", ""))[:200]}

    def call(self, request: InterfaceRequest) -> ScpCall:
        return DetachParameters(server_id=request.server_id, port_id=request.port_id).call()

    def plan_call(self, plan: DetachPlan) -> ScpCall:
        return DetachParameters(server_id=plan.server.id, port_id=plan.interface.port_id).call()

    def digest(self, request: InterfaceRequest) -> str:
        data = {"action": "detach", "server_id": request.server_id, "api_version": request.api_version}
        data["port_id"] = request.port_id
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

    # --- execution ----------------------------------------------------------------------------------------------
    def revalidate(self, *, client, request: InterfaceRequest) -> DetachPlan:
        return self.validate(
            client=client,
            params={"server_id": request.server_id, "port_id": request.port_id},
            owner_check=None,
            exclude_pk=request.pk,
        )

    def intent_payload(self, plan: DetachPlan) -> dict[str, Any]:
        return {"interface": plan.interface.model_dump(mode="json", exclude_none=True)}

    def send(self, *, client, request: InterfaceRequest, plan: DetachPlan, answered) -> Settlement | None:
        client.detach_interface(request.server_id, request.port_id)
        answered()
        return None  # the interface leaves over a while: looked at until it is gone

    def refusal_reason(self, request: InterfaceRequest, error: ScpHttpError) -> str:
        if isinstance(error, ScpNotFound):
            return _("The interface was no longer attached when the portal asked; nothing was detached.")
        if isinstance(error, ScpConflict):
            return _("SCP reported a conflict and detached nothing: %(detail)s") % {"detail": error.detail}
        return scp_refusal(error)

    def look(self, *, client, request: InterfaceRequest, over: bool) -> Settlement | None:
        gone = _gone(client, request)
        if gone or over:
            return _detached(client, request, gone=gone, via="response")
        return None

    def wait(self, *, client, request: InterfaceRequest) -> Settlement:
        return _detached(client, request, gone=_wait_until_gone(client, request), via="response")

    def reconcile(self, *, client, request: InterfaceRequest, interfaces) -> Settlement | Undecided | None:
        """Still listed (and not DELETING) → not applied; gone or DELETING → done. Never DELETEd again."""
        listed = next((i for i in interfaces if i.port_id == request.port_id), None)
        if listed is not None and (listed.port_state or "").upper() != "DELETING":
            reason = _("Not applied: the interface is still attached, so nothing was detached. You can submit again.")
            return not_applied(request, reason, found=True)
        record_event(
            action=AuditAction.RECONCILED,
            payload={"found": listed is not None, "port_id": request.port_id, "detach": True},
            interface_request_id=request.pk,
            target=request.server_id,
        )
        gone = listed is None or _wait_until_gone(client, request)
        return _detached(client, request, gone=gone, via="reconciliation")

    def look_late(self, *, client, request: InterfaceRequest, interfaces) -> Settlement | Undecided | None:
        listed = next((i for i in interfaces if i.port_id == request.port_id), None)
        if listed is not None and (listed.port_state or "").upper() != "DELETING":
            return None
        result = {"detached_port_id": request.port_id, "gone": listed is None, "port_kept": None}
        reason = _("Applied late: SCP detached the interface after the portal had found it still attached.")
        return Settlement("applied_late", reason, {"detach": result, "via": "late"}, {"result": result})

    def guest_source(self, request: InterfaceRequest) -> InterfaceRequest | None:
        return attach_that_made(server_id=request.server_id, port_id=request.port_id)  # undo what it set up

    def describe(self, request: InterfaceRequest) -> str:
        addresses = request.port_name or _("no address")
        return _("detach the interface %(port)s (%(addresses)s) from %(server)s") % {
            "port": request.port_id,
            "addresses": addresses,
            "server": request.server_name,
        }


def _gone(client, request: InterfaceRequest) -> bool:
    try:
        with scp_expecting(404):  # the 404 is the answer it waits for
            client.get_server_interface(request.server_id, request.port_id)
    except ScpNotFound:
        return True
    except ScpError:
        return False
    return False


def _wait_until_gone(client, request: InterfaceRequest) -> bool:
    """Poll the interface until SCP no longer lists it (404), up to the configured timeout."""
    config = settings.CONFIG
    deadline = time.monotonic() + config.scp_settle_timeout
    while True:
        if _gone(client, request):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(config.scp_poll_interval)


def _detached(client, request: InterfaceRequest, *, gone: bool, via: str) -> Settlement:
    """The detach has been carried out: whether SCP kept the port (unattached) or deleted it."""
    kept = None
    if gone:
        try:
            with scp_expecting(404):  # SCP may delete the port with its interface
                kept = not client.get_port(request.port_id).is_attached
        except ScpNotFound:
            kept = False
        except ScpError:
            kept = None
    result = {"detached_port_id": request.port_id, "gone": gone, "port_kept": kept}
    reason = (
        ""
        if gone
        else _("SCP accepted the detach; the interface was still being removed when the portal stopped waiting.")
    )
    return Settlement("succeed", reason, {"detach": result, "via": via}, {"result": result})
