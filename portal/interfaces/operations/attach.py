"""Attach: `POST /v1/servers/{id}/interfaces`, a new port on a subnet (with optional fixed IPs) or an existing port.

The parameters are one pydantic value (`AttachParameters`): the preview, the request's record, the digest an
approval binds to and the POST body are all built from it, by `body()`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from pydantic import BaseModel, ConfigDict, Field

from portal.audit.events import AuditAction
from portal.audit.services import record_event
from portal.core.task_recovery import tasks_waiting
from portal.scp import schemas
from portal.scp.errors import ScpError, ScpHttpError, ScpNotFound

from ..errors import AttachRejected
from ..models import Action, InterfaceRequest, Mode
from ..rules import canonical_address, repeated, syntax_problem
from ..selectors import hold_problem
from ..validation import AttachPlan, validate_attach
from .base import Operation, OwnEffects, ScpCall, Settlement, Undecided, not_applied, scp_refusal
from .ownership import decide_ownership

SETTLED = ("ACTIVE", "ERROR")
IDLE_CHECK_SECONDS = 0.05


class AttachParameters(BaseModel):
    """What an attach asks for, as recorded at submission and bound by the approval."""

    model_config = ConfigDict(frozen=True)

    server_id: str
    mode: str = Field(pattern="^(subnet|port)$")
    subnet_id: str = ""
    port_id: str = ""
    fixed_ips: tuple[str, ...] = ()

    @classmethod
    def parse(
        cls, *, server_id: str, mode: str, subnet_id: str = "", port_id: str = "", fixed_ips=()
    ) -> AttachParameters:
        """What a requester typed (the form's fields or the API's JSON) as parameters, or AttachRejected with the
        words a requester can act on, by field (`fixed_ip_<n>`: the n-th row given). Every address gets one
        spelling here at the edge (2001:DB8::5 is 2001:db8::5), and an empty row is ignored."""
        errors: dict[str, list[str]] = {}
        rows = [str(row) for row in fixed_ips or ()]
        addresses: list[str] = []
        if mode == Mode.SUBNET:
            if not subnet_id:
                errors["subnet_id"] = [_("Choose a subnet.")]
            if port_id:
                errors["port_id"] = [_("Choose either a subnet or a port, not both.")]
            if len(rows) > schemas.MAX_FIXED_IPS:
                errors["__all__"] = [_("Give at most %(n)d fixed IPs.") % {"n": schemas.MAX_FIXED_IPS}]
            else:
                addresses = _addresses(rows, errors)
        elif mode == Mode.PORT:
            if not port_id:
                errors["port_id"] = [_("Choose a port.")]
            if subnet_id:
                errors["subnet_id"] = [_("Choose either a subnet or a port, not both.")]
            if any(row.strip() for row in rows):
                errors["__all__"] = [_("Fixed IPs can only be given for a new port on a subnet.")]
        else:
            errors["mode"] = [_("Choose how to attach: a new port on a subnet, or an existing port.")]
        if errors:
            raise AttachRejected(errors)
        subnet_mode = mode == Mode.SUBNET
        return cls(
            server_id=server_id,
            mode=mode,
            subnet_id=subnet_id if subnet_mode else "",
            port_id="" if subnet_mode else port_id,
            fixed_ips=tuple(addresses),
        )

    def as_params(self) -> dict[str, Any]:
        """The services' keyword parameters."""
        return {
            "mode": self.mode,
            "subnet_id": self.subnet_id,
            "port_id": self.port_id,
            "fixed_ips": list(self.fixed_ips),
        }

    @classmethod
    def of_request(cls, request: InterfaceRequest) -> AttachParameters:
        return cls(
            server_id=request.server_id,
            mode=request.mode,
            subnet_id=request.subnet_id,
            port_id=request.port_id,
            fixed_ips=tuple(request.fixed_ips or ()),
        )

    @classmethod
    def of_plan(cls, plan: AttachPlan) -> AttachParameters:
        return cls(
            server_id=plan.server.id,
            mode=plan.mode,
            subnet_id=plan.subnet.id if plan.subnet else "",
            port_id=plan.port.id if plan.port else "",
            fixed_ips=tuple(plan.fixed_ips),
        )

    def body(self) -> schemas.ServerInterfaceCreateRequest:
        """The one builder of the POST's body."""
        if self.mode == Mode.PORT:
            return schemas.ServerInterfaceCreateRequest(port_id=self.port_id)
        fixed = [schemas.FixedIp(ip_address=ip) for ip in self.fixed_ips] or None
        return schemas.ServerInterfaceCreateRequest(subnet_id=self.subnet_id, fixed_ips=fixed)

    def call(self) -> ScpCall:
        return ScpCall("POST", f"/v1/servers/{self.server_id}/interfaces", self.body().to_body())


class AttachOperation(Operation):
    name = Action.ATTACH.value
    intent_action = AuditAction.ATTACH_INTENT
    resubmittable = True
    plan_class = AttachPlan

    def validate(
        self, *, client, params: dict[str, Any], owner_check, exclude_pk: int | None = None, viewer=None
    ) -> AttachPlan:
        return validate_attach(
            client=client,
            server_id=params["server_id"],
            mode=params.get("mode", ""),
            subnet_id=params.get("subnet_id", ""),
            port_id=params.get("port_id", ""),
            fixed_ips=params.get("fixed_ips") or [],
            with_interfaces=True,  # (in the same round: the worker may send on this check, services.checks)
            owner_check=owner_check,
            held=lambda subnet, address: hold_problem(
                subnet_id=subnet, address=address, exclude_pk=exclude_pk, viewer=viewer
            ),
        )

    def record_fields(self, plan: AttachPlan) -> dict[str, Any]:
        subnet, port = plan.subnet, plan.port
        return {
            "mode": plan.mode,
            "subnet_id": subnet.id if subnet else "",
            "subnet_name": subnet.name[:255] if subnet else "",
            "subnet_cidr": subnet.cidr if subnet else "",
            "subnet_gateway": (subnet.gateway_ip_address or "") if subnet else "",
            "port_id": port.id if port else "",
            "port_name": port.name[:255] if port else "",
            "fixed_ips": list(plan.fixed_ips),
        }

    def audited_input(self, params: dict[str, Any]) -> dict[str, Any]:
        fixed = [str(ip)[:100] for ip in params.get("fixed_ips") or []][:32]
        return {**{k: str(params.get(k, ""))[:200] for k in ("mode", "subnet_id", "port_id")}, "fixed_ips": fixed}

    def call(self, request: InterfaceRequest) -> ScpCall:
        return AttachParameters.of_request(request).call()

    def plan_call(self, plan: AttachPlan) -> ScpCall:
        return AttachParameters.of_plan(plan).call()

    def digest(self, request: InterfaceRequest) -> str:
        # The form it had before operations existed, so that every decision already made still binds.
        data = {"server_id": request.server_id, "api_version": request.api_version, "body": self.call(request).body}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

    # --- execution ----------------------------------------------------------------------------------------------
    def revalidate(self, *, client, request: InterfaceRequest) -> AttachPlan:
        params = AttachParameters.of_request(request)
        return validate_attach(
            client=client,
            server_id=params.server_id,
            mode=params.mode,
            subnet_id=params.subnet_id,
            port_id=params.port_id,
            fixed_ips=list(params.fixed_ips),
            with_interfaces=True,
            held=lambda subnet, address: hold_problem(subnet_id=subnet, address=address, exclude_pk=request.pk),
        )

    def send(self, *, client, request: InterfaceRequest, plan: AttachPlan, answered) -> Settlement | None:
        interface = client.attach_interface(request.server_id, AttachParameters.of_request(request).body())
        # Claimed at once, so that reconciling another request never takes this port for its own; SCP's first
        # answer is kept until the port settles.
        InterfaceRequest.objects.filter(pk=request.pk).update(
            result_port_id=interface.port_id, result=interface.model_dump(mode="json", exclude_none=True)
        )
        request.result_port_id = interface.port_id
        answered()
        if interface.port_state not in SETTLED:
            interface = _poll_while_idle(client, request, interface)
        if interface.port_state in SETTLED:
            return settled(interface, via="response")
        return None

    def refusal_reason(self, request: InterfaceRequest, error: ScpHttpError) -> str:
        if not isinstance(error, ScpNotFound):
            return scp_refusal(error)
        code = (error.code or "").lower()
        if "subnet" in code:
            what, name = _("The subnet %(name)s no longer exists; nothing was attached."), request.subnet_name
            name = name or request.subnet_id
        elif "port" in code:
            what, name = _("The port %(name)s no longer exists; nothing was attached."), request.port_name
            name = name or request.port_id
        else:
            what, name = _("The server %(name)s no longer exists; nothing was attached."), request.server_name
            name = name or request.server_id
        return what % {"name": name}

    def look(self, *, client, request: InterfaceRequest, over: bool) -> Settlement | None:
        try:
            interface = client.get_server_interface(request.server_id, request.result_port_id)
        except ScpError:
            interface = None
        if interface is not None and (interface.port_state in SETTLED or over):
            return settled(interface, via="response")
        if over:  # SCP cannot be read now: settle with its last answer, as waiting in place would have
            return settled(schemas.InterfaceResponse.model_validate(request.result), via="response")
        return None

    def wait(self, *, client, request: InterfaceRequest) -> Settlement:
        request.refresh_from_db(fields=["result", "result_port_id"])
        interface = schemas.InterfaceResponse.model_validate(request.result)
        return settled(wait_until_settled(client, request, interface), via="response")

    def reconcile(self, *, client, request: InterfaceRequest, interfaces) -> Settlement | Undecided | None:
        verdict = decide_ownership(request, interfaces)  # (the services run again a request that sent nothing)
        if verdict is None:
            return None  # settled meanwhile
        if verdict.undecided:
            return Undecided(verdict.undecided)
        if verdict.interface is not None:
            found = verdict.interface
            record_event(
                action=AuditAction.RECONCILED,
                payload={"found": True, "port_id": found.port_id},
                interface_request_id=request.pk,
                target=request.server_id,
            )
            if found.port_state not in SETTLED:
                found = wait_until_settled(client, request, found)
            return settled(found, via="reconciliation")
        reason = _("Not applied: the server has no such interface, so nothing was attached. You can submit again.")
        return not_applied(request, reason, found=False)

    def look_late(self, *, client, request: InterfaceRequest, interfaces) -> Settlement | Undecided | None:
        verdict = decide_ownership(request, interfaces)
        if verdict is None or verdict.interface is None:
            return Undecided(verdict.undecided) if verdict is not None and verdict.undecided else None
        found = verdict.interface
        result = found.model_dump(mode="json", exclude_none=True)
        if found.port_state == "ERROR":
            event = "applied_late_in_error"
            reason = _(
                "Applied late, and the port went to ERROR: SCP attached it after the portal had found nothing "
                "on the server."
            )
        else:
            event = "applied_late"
            reason = _("Applied late: SCP attached the interface after the portal had found nothing on the server.")
        fields = {"result": result, "result_port_id": found.port_id}
        return Settlement(event, reason, {"interface": result, "via": "late"}, fields)

    def guest_source(self, request: InterfaceRequest) -> InterfaceRequest | None:
        return request  # bring the new interface up inside the server

    def describe(self, request: InterfaceRequest) -> str:
        return _("attach an interface to %(server)s") % {"server": request.server_name}


def _addresses(rows: list[str], errors: dict[str, list[str]]) -> list[str]:
    """The fixed IPs of the non-empty rows, canonical; a row's problem goes to errors["fixed_ip_<row>"]."""
    seen: set[str] = set()
    addresses: list[str] = []
    for index, raw in enumerate(rows):
        value = raw.strip()
        if not value:
            continue
        problem = syntax_problem(value)
        canonical = value if problem else canonical_address(value)
        if problem is None and canonical in seen:
            problem = repeated(value)
        seen.add(canonical)
        if problem:
            errors[f"fixed_ip_{index}"] = [problem]
        else:
            addresses.append(canonical)
    return addresses


def settled(interface: schemas.InterfaceResponse, *, via: str) -> Settlement:
    """The attach's end from the port's state: succeeded (ACTIVE, or still settling when the portal stopped
    waiting) or failed (ERROR)."""
    result = interface.model_dump(mode="json", exclude_none=True)
    if interface.port_state == "ERROR":
        event, reason = "port_error", _("SCP attached the port but it went to ERROR.")
    elif interface.port_state != "ACTIVE":
        event = "succeed"
        reason = _("Attached; the port was still %(state)s when the portal stopped waiting.") % {
            "state": interface.port_state
        }
    else:
        event, reason = "succeed", ""
    fields = {"result": result, "result_port_id": interface.port_id}
    return Settlement(event, reason, {"interface": result, "via": via}, fields)


def _poll_while_idle(client, request: InterfaceRequest, interface: schemas.InterfaceResponse):
    """Look at the new port in place for as long as no other task waits for a worker: a lone attach settles as
    soon as SCP says so, without a follow-up task's pickup, and the worker hands over to follow-ups the moment
    someone else needs it. Its own request's mails do not count as someone else (see OwnEffects)."""
    config = settings.CONFIG
    deadline = time.monotonic() + config.scp_settle_timeout
    own = OwnEffects(request.pk)
    while interface.port_state not in SETTLED and time.monotonic() < deadline:
        look_at = time.monotonic() + config.scp_poll_interval
        while time.monotonic() < look_at:  # a task that comes in meanwhile is noticed within IDLE_CHECK_SECONDS
            if tasks_waiting(besides=own.besides):
                return interface
            own.deliver_when_due()
            time.sleep(min(IDLE_CHECK_SECONDS, max(0.0, look_at - time.monotonic())))
        with contextlib.suppress(ScpError):
            interface = client.get_server_interface(request.server_id, interface.port_id)
    return interface


def wait_until_settled(client, request: InterfaceRequest, interface: schemas.InterfaceResponse):
    """Poll the new interface until its port is ACTIVE (or ERROR), up to the configured timeout."""
    config = settings.CONFIG
    deadline = time.monotonic() + config.scp_settle_timeout
    while interface.port_state not in SETTLED and time.monotonic() < deadline:
        time.sleep(config.scp_poll_interval)
        with contextlib.suppress(ScpError):
            interface = client.get_server_interface(request.server_id, interface.port_id)
    return interface
