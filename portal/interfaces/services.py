"""Every state change of an interface request. Views and tasks call these; nothing else writes the model."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.approvals.policies import policy_decide
from portal.audit.events import AuditAction
from portal.audit.models import Outcome
from portal.audit.services import record_event, scp_call_binding
from portal.core.roles import can_request
from portal.core.scp import scp_client
from portal.core.version_watch import version_refusal
from portal.identity.services import in_language_of
from portal.scp import schemas
from portal.scp.client import ScpClient
from portal.scp.errors import (
    ScpBadRequest,
    ScpConflict,
    ScpError,
    ScpHttpError,
    ScpNotFound,
    ScpNotSent,
    ScpOutcomeUnknown,
    ScpResponseInvalid,
    ScpServerError,
)
from portal.teams.selectors import requesting_team

from .access import deny, ensure_owned
from .errors import AttachRejected, InvalidState, ScpUnavailable
from .lifecycle import record_submission, transition
from .models import Action, FixedIpHold, InterfaceRequest, Mode, Status
from .selectors import attach_that_made, canonical_address, hold_problem, interface_busy_with
from .validation import AttachPlan, DetachPlan, validate_attach, validate_detach

MAX_JUSTIFICATION = 1000
# An approved request that cannot reach SCP before sending anything waits and tries again: 30 s, 1, 2, 4, 8,
# then every 15 minutes, for about an hour and a half in all, before it fails with the reason.
RETRY_BASE_SECONDS = 30
RETRY_CAP_SECONDS = 900
MAX_ATTEMPTS = 9


def _now() -> dt.datetime:
    return timezone.now()


@contextlib.contextmanager
def _scp_calls_for(request: InterfaceRequest):
    token = scp_call_binding.set((request.pk, request.server_id))
    try:
        yield
    finally:
        scp_call_binding.reset(token)


def request_preview(*, request: InterfaceRequest | None = None, plan: AttachPlan | None = None, client=None) -> dict:
    """Exactly what the portal will send: method, path, version header and JSON body."""
    client = client or scp_client(audited=False)
    if request is not None:
        server_id, body, version = request.server_id, request.attach_body, request.api_version
        method, path = request.call_method, request.call_path
    else:
        assert plan is not None
        server_id, version = plan.server.id, settings.CONFIG.scp_virtualserver_api_version
        if isinstance(plan, DetachPlan):
            method, path, body = "DELETE", f"/v1/servers/{server_id}/interfaces/{plan.interface.port_id}", None
        else:
            method, path, body = "POST", f"/v1/servers/{server_id}/interfaces", plan.body().to_body()
    return {
        "method": method,
        "path": path,
        "url": client.url_for("virtualserver", path),
        "api_version": f"virtualserver {version}",
        "body": body,
    }


def attach_validate(
    *,
    user,
    server_id: str,
    mode: str,
    subnet_id: str = "",
    port_id: str = "",
    fixed_ips: list[str] | None = None,
    stage: str = "preview",
    client: ScpClient | None = None,
) -> AttachPlan:
    """Validate a proposed attach on a server the user may request on; an invalid one is audited with its reasons.

    A server that none of the user's teams owns is NotFound (audited), before anything about it is told.
    """

    def check(client, owned):
        return validate_attach(
            client=client,
            server_id=server_id,
            mode=mode,
            subnet_id=subnet_id,
            port_id=port_id,
            fixed_ips=fixed_ips,
            owner_check=owned,
            held=lambda subnet, address: hold_problem(subnet_id=subnet, address=address),
        )

    submitted = {"mode": mode, "subnet_id": subnet_id, "port_id": port_id, "fixed_ips": fixed_ips or []}
    return _live_check(user=user, server_id=server_id, stage=stage, submitted=submitted, client=client, check=check)


def _live_check(*, user, server_id: str, stage: str, submitted: dict, client: ScpClient | None, check):
    """Run an attach's or a detach's live validation: nothing while SCP's API version refuses calls, the server's
    ownership checked before anything about it is told, and a refusal audited with its reasons."""
    refusal = version_refusal()
    if refusal is not None:
        raise ScpUnavailable(_("Nothing can be sent to SCP right now. %(why)s") % {"why": refusal})

    def owned(server):
        ensure_owned(user=user, server_id=server_id, server=server, to_request=True)

    try:
        return check(client or scp_client(), owned)
    except AttachRejected as exc:
        attach_input_rejected(user=user, server_id=server_id, stage=stage, errors=exc.errors, submitted=submitted)
        raise


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
) -> InterfaceRequest:
    """Validate and record a request, decide by policy whether it needs approval, and start it if not.

    The same idempotency key from the same requester always yields the same request (a double click, a
    re-posted page).
    """
    existing = InterfaceRequest.objects.filter(requester=requester, idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    if not can_request(requester):
        raise deny(user=requester, action=AuditAction.SUBMIT_REFUSED, reason=_("You may not submit requests."))
    plan = attach_validate(
        user=requester,
        server_id=server_id,
        mode=mode,
        subnet_id=subnet_id,
        port_id=port_id,
        fixed_ips=fixed_ips,
        stage="submit",
        client=client,
    )
    fields = {
        "mode": mode,
        "subnet_id": plan.subnet.id if plan.subnet else "",
        "subnet_name": plan.subnet.name[:255] if plan.subnet else "",
        "subnet_cidr": plan.subnet.cidr if plan.subnet else "",
        "subnet_gateway": (plan.subnet.gateway_ip_address or "") if plan.subnet else "",
        "port_id": plan.port.id if plan.port else "",
        "port_name": plan.port.name[:255] if plan.port else "",
        "fixed_ips": list(plan.fixed_ips),
    }
    return _record_request(
        requester=requester, idempotency_key=idempotency_key, plan=plan, fields=fields, justification=justification
    )


def _record_request(*, requester, idempotency_key, plan, fields: dict, justification: str) -> InterfaceRequest:
    """Decide by policy and record a validated attach or detach; start it at once when no approval is needed."""
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
    now = _now()
    try:
        with transaction.atomic():
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
            # Unique per (subnet, address): of two requests racing for one address, one commits.
            FixedIpHold.objects.bulk_create(
                FixedIpHold(request=request, subnet_id=request.subnet_id, address=canonical_address(address))
                for address in request.fixed_ips or []
            )
            record_submission(
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
                },
            )
    except IntegrityError:
        # The same key raced in from a second click: the first one won; answer with its request.
        existing = InterfaceRequest.objects.filter(requester=requester, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
        # Or another request took one of the fixed IPs between validation and this commit.
        held = {
            f"fixed_ip_{i}": [problem]
            for i, address in enumerate(fields.get("fixed_ips") or [])
            if (problem := hold_problem(subnet_id=fields["subnet_id"], address=address))
        }
        if not held:
            raise
        submitted = {"fixed_ips": list(fields["fixed_ips"]), "subnet_id": fields["subnet_id"]}
        attach_input_rejected(
            user=requester, server_id=plan.server.id, stage="submit", errors=held, submitted=submitted
        )
        raise AttachRejected(held) from None
    return request


def enqueue_execution(*, request_id: int) -> None:
    from .tasks import execute_interface_request

    execute_interface_request.enqueue(request_id)


def requests_resume_due(*, now: dt.datetime | None = None) -> int:
    """Start every approved request whose backoff is over, or whose task was lost (approved longer than the
    execution lease ago and never claimed: its worker died). The claim makes a second start harmless."""
    now = now or _now()
    lost = now - dt.timedelta(seconds=settings.CONFIG.execution_lease_seconds)
    due = InterfaceRequest.objects.filter(status=Status.APPROVED).filter(
        models.Q(next_attempt_at__lte=now) | models.Q(next_attempt_at__isnull=True, updated_at__lt=lost)
    )
    ids = list(due.values_list("pk", flat=True))
    for request_id in ids:
        InterfaceRequest.objects.filter(pk=request_id, status=Status.APPROVED).update(next_attempt_at=_now())
        enqueue_execution(request_id=request_id)
    return len(ids)


def _fail_execution(request: InterfaceRequest, *, reason: str, payload: dict[str, Any]) -> InterfaceRequest:
    """End an executing request as failed, with the reason the requester will read."""
    transition(request, "fail", reason=reason, payload=payload)
    return request


def _defer_execution(request: InterfaceRequest, *, reason: str, payload: dict[str, Any]) -> InterfaceRequest:
    """SCP could not be reached and nothing was sent: back to approved, tried again after a backoff."""
    attempts = request.attempts + 1
    if attempts >= MAX_ATTEMPTS:
        reason = _("%(reason)s The portal tried %(n)d times over about an hour and a half; nothing was sent.") % {
            "reason": reason,
            "n": attempts,
        }
        return _fail_execution(request, reason=reason + " " + _("You can submit again."), payload=payload)
    delay = min(RETRY_BASE_SECONDS * 2 ** (attempts - 1), RETRY_CAP_SECONDS)
    next_at = _now() + dt.timedelta(seconds=delay)
    transition(
        request,
        "defer",
        reason=_("%(reason)s Nothing was sent; the portal tries again at %(time)s UTC (attempt %(n)d).")
        % {"reason": reason, "time": f"{next_at:%H:%M:%S}", "n": attempts + 1},
        payload={**payload, "attempt": attempts, "retry_in_seconds": delay},
        attempts=attempts,
        next_attempt_at=next_at,
        effects_due_at=next_at,
    )
    return request


def _failure_reason(request: InterfaceRequest, error: ScpHttpError) -> str:
    if isinstance(error, ScpBadRequest):
        return _("SCP refused the request as invalid: %(detail)s") % {"detail": error.detail}
    if isinstance(error, ScpNotFound):
        code = (error.code or "").lower()
        if "subnet" in code:
            what = _("The subnet %(name)s no longer exists; nothing was attached.")
            name = request.subnet_name or request.subnet_id
        elif "port" in code:
            what = _("The port %(name)s no longer exists; nothing was attached.")
            name = request.port_name or request.port_id
        else:
            what = _("The server %(name)s no longer exists; nothing was attached.")
            name = request.server_name or request.server_id
        return what % {"name": name}
    if isinstance(error, ScpConflict):
        return _("SCP reported a conflict and attached nothing: %(detail)s") % {"detail": error.detail}
    if error.status in (401, 403):
        return _("SCP refused the portal's credentials (%(status)s); an administrator must check them.") % {
            "status": error.status
        }
    return _("SCP answered %(status)s: %(detail)s") % {"status": error.status, "detail": error.detail}


def interface_request_execute(*, request_id: int, client: ScpClient | None = None) -> InterfaceRequest | None:
    """Claim an approved request and carry it out exactly once: re-validate, write ahead, call, poll."""
    request = InterfaceRequest.objects.filter(pk=request_id).first()
    if request is None:
        return None
    with in_language_of(request.requester_id):  # what it writes (reasons, emails) is for the requester
        return _execute(request, client)


def _execute(request: InterfaceRequest, client: ScpClient | None) -> InterfaceRequest:
    now = _now()
    due = models.Q(next_attempt_at__isnull=True) | models.Q(next_attempt_at__lte=now)
    if not transition(request, "claim", where=due, claimed_at=now, next_attempt_at=None):
        # Someone else claimed it, it was cancelled, or it is waiting out a backoff (its own deferred task, or
        # the scheduler's sweep, runs it then): nothing to do now.
        return request
    refusal = version_refusal()
    if refusal is not None:
        reason = _("Not sent: %(why)s You can submit again once it is.") % {"why": refusal}
        return _fail_execution(request, reason=reason, payload={"stage": "api_version", "sent": False})
    client = client or scp_client()
    if request.is_detach:
        return _execute_detach(request, client)
    with _scp_calls_for(request):
        try:
            plan = validate_attach(
                client=client,
                server_id=request.server_id,
                mode=request.mode,
                subnet_id=request.subnet_id,
                port_id=request.port_id,
                fixed_ips=request.fixed_ips,
                with_interfaces=True,
                held=lambda subnet, address: hold_problem(subnet_id=subnet, address=address, exclude_pk=request.pk),
            )
        except AttachRejected as exc:
            reason = _("No longer possible: %(why)s") % {"why": exc.summary}
            return _fail_execution(request, reason=reason, payload={"stage": "revalidation", "sent": False})
        except ScpUnavailable as exc:
            return _defer_execution(request, reason=str(exc), payload={"stage": "revalidation", "sent": False})
        ports_before = sorted(i.port_id for i in plan.interfaces or [])
        InterfaceRequest.objects.filter(pk=request.pk).update(ports_before=ports_before)
        body = schemas.ServerInterfaceCreateRequest.model_validate(request.attach_body)
        # Write-ahead: committed before the call, so a crash after it leaves evidence, never silence.
        record_event(
            action=AuditAction.ATTACH_INTENT,
            outcome=Outcome.PENDING,
            payload={**request_preview(request=request, client=client), "ports_before": ports_before},
            interface_request_id=request.pk,
            target=request.server_id,
        )
        try:
            interface = client.attach_interface(request.server_id, body)
        except ScpNotSent:
            reason = _("SCP could not be reached.")
            return _defer_execution(request, reason=reason, payload={"stage": "attach", "sent": False})
        except (ScpOutcomeUnknown, ScpResponseInvalid, ScpServerError) as exc:
            transition(
                request,
                "lose_answer",
                reason=_("SCP's answer was lost or unusable (%(error)s); checking the server.")
                % {"error": type(exc).__name__},
            )
            return interface_request_reconcile(request_id=request.pk, client=client)
        except ScpHttpError as exc:
            payload = {"status": exc.status, "code": exc.code, "detail": exc.detail}
            return _fail_execution(request, reason=_failure_reason(request, exc), payload=payload)
        # Claimed at once, so that reconciling another request never takes this port for its own; SCP's first
        # answer is kept until the port settles.
        InterfaceRequest.objects.filter(pk=request.pk).update(
            result_port_id=interface.port_id, result=interface.model_dump(mode="json", exclude_none=True)
        )
        if interface.port_state not in SETTLED:
            interface = _poll_while_idle(client, request, interface)
        if interface.port_state not in SETTLED and _follow_up_later(request.pk):
            return request  # a follow-up task polls the port; this worker is free for the next request
        interface = _wait_until_settled(client, request, interface)
    return _settle_success(request, interface, via="response")


SETTLED = ("ACTIVE", "ERROR")
FOLLOW_UP_FIRST_SECONDS = 0.25
IDLE_CHECK_SECONDS = 0.05


def _poll_while_idle(
    client: ScpClient, request: InterfaceRequest, interface: schemas.InterfaceResponse
) -> schemas.InterfaceResponse:
    """Look at the new port in place for as long as no other task waits for a worker: a lone attach settles as
    soon as SCP says so, without a follow-up task's pickup, and the worker hands over to follow-ups the moment
    someone else needs it."""
    from portal.core.task_recovery import tasks_waiting

    config = settings.CONFIG
    deadline = time.monotonic() + config.scp_settle_timeout
    while interface.port_state not in SETTLED and time.monotonic() < deadline:
        look_at = time.monotonic() + config.scp_poll_interval
        while time.monotonic() < look_at:  # a task that comes in meanwhile is noticed within IDLE_CHECK_SECONDS
            if tasks_waiting():
                return interface
            time.sleep(min(IDLE_CHECK_SECONDS, max(0.0, look_at - time.monotonic())))
        with contextlib.suppress(ScpError):
            interface = client.get_server_interface(request.server_id, interface.port_id)
    return interface


def _follow_up_later(request_id: int, attempt: int = 1) -> bool:
    """Schedule the next look at an executing request's interface, with backoff capped at SCP_POLL_INTERVAL.

    False when the task backend cannot run a task later (the immediate backend of the tests): the caller waits.
    """
    from django.tasks import default_task_backend

    from .tasks import follow_up_interface_request

    if not default_task_backend.supports_defer:
        return False
    delay = min(FOLLOW_UP_FIRST_SECONDS * 2 ** (attempt - 1), settings.CONFIG.scp_poll_interval)
    run_after = _now() + dt.timedelta(seconds=delay)
    transaction.on_commit(
        lambda: follow_up_interface_request.using(run_after=run_after).enqueue(request_id, attempt), robust=True
    )
    return True


def interface_request_follow_up(*, request_id: int, attempt: int, client: ScpClient | None = None):
    """Look once at an executing request's interface: settle it when SCP says it has settled (or is gone, for a
    detach), or when the settle time is over; otherwise look again later. Safe to run twice: settling is a
    conditional transition, and a request that has moved on is left alone."""
    request = InterfaceRequest.objects.filter(pk=request_id).first()
    if request is None or request.status != Status.EXECUTING or not (request.result_port_id or request.is_detach):
        return request
    with in_language_of(request.requester_id):
        return _follow_up(request, attempt, client)


def _follow_up(request: InterfaceRequest, attempt: int, client: ScpClient | None) -> InterfaceRequest:
    client = client or scp_client()
    over = request.claimed_at is None or _now() >= request.claimed_at + dt.timedelta(
        seconds=settings.CONFIG.scp_settle_timeout
    )
    with _scp_calls_for(request):
        if request.is_detach:
            try:
                client.get_server_interface(request.server_id, request.port_id)
                gone = False
            except ScpNotFound:
                gone = True
            except ScpError:
                gone = False
            if gone or over:
                return _settle_detach(request, client, gone=gone, via="response")
        else:
            try:
                interface = client.get_server_interface(request.server_id, request.result_port_id)
            except ScpError:
                interface = None
            if interface is not None and (interface.port_state in SETTLED or over):
                return _settle_success(request, interface, via="response")
            if over:  # SCP cannot be read now: settle with its last answer, as waiting in place would have
                return _settle_success(
                    request, schemas.InterfaceResponse.model_validate(request.result), via="response"
                )
    _follow_up_later(request.pk, attempt + 1)
    return request


def _wait_until_settled(
    client: ScpClient, request: InterfaceRequest, interface: schemas.InterfaceResponse
) -> schemas.InterfaceResponse:
    """Poll the new interface until its port is ACTIVE (or ERROR), up to the configured timeout."""
    config = settings.CONFIG
    deadline = time.monotonic() + config.scp_settle_timeout
    while interface.port_state not in ("ACTIVE", "ERROR") and time.monotonic() < deadline:
        time.sleep(config.scp_poll_interval)
        with contextlib.suppress(ScpError):
            interface = client.get_server_interface(request.server_id, interface.port_id)
    return interface


def _settle_success(request: InterfaceRequest, interface: schemas.InterfaceResponse, *, via: str) -> InterfaceRequest:
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
    transition(
        request,
        event,
        reason=reason,
        payload={"interface": result, "via": via},
        result=result,
        result_port_id=interface.port_id,
    )
    return request


UNSETTLED = (Status.EXECUTING, Status.UNKNOWN)


@dataclass(frozen=True)
class _Verdict:
    interface: schemas.InterfaceResponse | None = None  # provably this request's
    undecided: str = ""  # why the portal cannot tell yet; empty with no interface: provably not applied


def _could_have_made(request: InterfaceRequest, interface: schemas.InterfaceResponse) -> bool:
    """Whether this request's POST could have produced `interface` (it did not exist before the POST)."""
    if request.mode == Mode.PORT:
        return interface.port_id == request.port_id
    return (
        interface.subnet_id == request.subnet_id
        and interface.port_id not in set(request.ports_before or [])
        and set(request.fixed_ips) <= set(interface.addresses)
    )


def _names(request: InterfaceRequest, interface: schemas.InterfaceResponse) -> bool:
    """Whether the request asked for this very interface: its port, or every fixed IP it carries."""
    if request.mode == Mode.PORT:
        return interface.port_id == request.port_id
    return bool(request.fixed_ips) and set(request.fixed_ips) <= set(interface.addresses)


def _is_open(request: InterfaceRequest) -> bool:
    return request.status in UNSETTLED


def _ownership(
    request: InterfaceRequest, interfaces: list[schemas.InterfaceResponse], *, rivals: list[InterfaceRequest]
) -> _Verdict:
    """Which of the server's interfaces this request can prove is its own.

    Another request's settled port is never a candidate. An interface that some request named (its port, or its
    fixed IPs) can only be a request's that named it; one with an address SCP chose can be any request's that
    asked for an automatic address. A candidate that a rival (another request on the same server whose POST may
    have gone out and whose outcome is open, or is watched for a late apply) could also have made proves nothing,
    unless every contender is lost alike, asked for the same thing, and there is one candidate per contender:
    then every POST was applied, and the ports are shared out in a fixed order. A watched request never contests
    an automatic address with an open one: the open one settles first.
    """
    claimed = set(
        InterfaceRequest.objects.filter(server_id=request.server_id)
        .exclude(pk=request.pk)
        .exclude(result_port_id="")
        .values_list("result_port_id", flat=True)
    )

    def contenders_for(interface) -> list[InterfaceRequest] | None:
        """The rivals that could have made `interface` with this request; None: it cannot be this request's."""
        if interface.port_id in claimed or not _could_have_made(request, interface):
            return None
        namers = [r for r in rivals if _names(r, interface)]
        if _names(request, interface):
            return namers
        if namers:
            return None
        return [r for r in rivals if _could_have_made(r, interface) and (_is_open(r) or not _is_open(request))]

    contested = {i.port_id: c for i in interfaces if (c := contenders_for(i)) is not None}
    candidates = [i for i in interfaces if i.port_id in contested]
    if not candidates:
        return _Verdict()
    sole = [i for i in candidates if not contested[i.port_id]]
    if len(sole) == 1:
        return _Verdict(sole[0])
    if sole:
        undecided = _("%(n)d new interfaces could each be this request's; an operator must tell.") % {"n": len(sole)}
        return _Verdict(undecided=undecided)
    contenders = sorted({request, *(r for rs in contested.values() for r in rs)}, key=lambda r: r.pk)
    pool = sorted(
        (i for i in interfaces if i.port_id not in claimed and any(_could_have_made(r, i) for r in contenders)),
        key=lambda i: i.port_id,
    )
    interchangeable = (
        all(r.status == Status.UNKNOWN and _could_have_made(r, i) for r in contenders for i in pool)
        and len({(r.mode, r.subnet_id, r.port_id, tuple(r.fixed_ips)) for r in contenders}) == 1
    )
    if interchangeable and len(pool) == len(contenders):
        return _Verdict(pool[contenders.index(request)])
    others = ", ".join(str(r.pk) for r in contenders if r.pk != request.pk)
    return _Verdict(
        undecided=_(
            "An interface that this request may have made could also come from request(s) %(others)s, whose outcome "
            "is still open; the portal decides once they have settled."
        )
        % {"others": others}
    )


WATCHED = models.Q(status=Status.FAILED, watch_until__isnull=False)


def _decide_ownership(request: InterfaceRequest, interfaces: list[schemas.InterfaceResponse]) -> _Verdict | None:
    """Judge ownership with the server's open and watched requests locked, and claim the interface before
    unlocking. None when the request was settled meanwhile (by its own answer, another reconciler, or the end of
    its watch)."""
    with transaction.atomic():
        locked = list(
            InterfaceRequest.objects.select_for_update()
            .filter(server_id=request.server_id)
            .filter(models.Q(pk=request.pk) | models.Q(status__in=UNSETTLED, ports_before__isnull=False) | WATCHED)
            .order_by("pk")
        )
        me = next((r for r in locked if r.pk == request.pk), None)
        if me is None or not (_is_open(me) or (me.status == Status.FAILED and me.watch_until)):
            return None
        verdict = _ownership(me, interfaces, rivals=[r for r in locked if r.pk != me.pk])
        if verdict.interface is not None:
            InterfaceRequest.objects.filter(pk=me.pk).update(result_port_id=verdict.interface.port_id)
        return verdict


def interface_request_reconcile(*, request_id: int, client: ScpClient | None = None) -> InterfaceRequest:
    """Settle a request whose outcome is unknown by looking at the server; never send the POST again."""
    request = InterfaceRequest.objects.get(pk=request_id)
    with in_language_of(request.requester_id):  # the reasons are for the requester
        return _reconcile(request, client)


def _reconcile(request: InterfaceRequest, client: ScpClient | None) -> InterfaceRequest:
    lease_over = _now() - dt.timedelta(seconds=settings.CONFIG.execution_lease_seconds)
    stuck = request.status == Status.EXECUTING and request.claimed_at and request.claimed_at < lease_over
    if request.status != Status.UNKNOWN and not stuck:
        raise InvalidState(f"Request {request.pk} is {request.get_status_display()}; there is nothing to reconcile.")
    client = client or scp_client()
    with _scp_calls_for(request):
        try:
            interfaces = client.list_server_interfaces(request.server_id)
        except ScpNotFound:
            interfaces = []
        except ScpError:
            return request  # still unknown; the periodic reconciliation will try again
        if request.is_detach:
            return _reconcile_detach(request, interfaces, client)
        if request.ports_before is None and request.mode == Mode.SUBNET:
            verdict = _Verdict()  # the call was never made: the claim died before its write-ahead
        else:
            verdict = _decide_ownership(request, interfaces)
        if verdict is None:
            request.refresh_from_db()
            return request
        if verdict.undecided:
            if request.status_reason != verdict.undecided:  # a note when what blocks the decision changes
                transition(request, "undecided", reason=verdict.undecided)
            request.refresh_from_db()
            return request
        if verdict.interface is not None:
            found = verdict.interface
            record_event(
                action=AuditAction.RECONCILED,
                outcome=Outcome.SUCCESS,
                payload={"found": True, "port_id": found.port_id},
                interface_request_id=request.pk,
                target=request.server_id,
            )
            if found.port_state not in ("ACTIVE", "ERROR"):
                found = _wait_until_settled(client, request, found)
            return _settle_success(request, found, via="reconciliation")
    watch = _watch_fields(request)
    transition(
        request,
        "not_applied",
        reason=_("Not applied: the server has no such interface, so nothing was attached. You can submit again."),
        payload={"found": False, **_watch_payload(watch)},
        **watch,
    )
    return request


LATE_LOOK_FIRST_SECONDS = 60
LATE_LOOK_CAP_SECONDS = 3600


def _watch_fields(request: InterfaceRequest) -> dict[str, Any]:
    """A write that was sent but found not applied may still be applied by SCP: watch it for a while."""
    hours = settings.CONFIG.late_apply_watch_hours
    if request.ports_before is None or not hours:  # never sent, or no watching wanted
        return {}
    now = _now()
    return {
        "watch_until": now + dt.timedelta(hours=hours),
        "watch_next_at": now + dt.timedelta(seconds=LATE_LOOK_FIRST_SECONDS),
    }


def _watch_payload(watch: dict[str, Any]) -> dict[str, Any]:
    return {"watched_until": watch["watch_until"].isoformat()} if watch else {}


def requests_watch_late(*, client: ScpClient | None = None, every: bool = False) -> int:
    """Look again at writes that were sent, lost their answer and were found not applied: SCP may still carry
    them out. One that SCP applied after all becomes succeeded (or failed with its port in ERROR), with the
    interface, so that a "failed" request never sits beside an interface it made. Looks back off from a minute to
    an hour; `every` looks at every watched request now. Returns how many were settled."""
    now = _now()
    watched = InterfaceRequest.objects.filter(WATCHED, watch_until__gt=now).order_by("pk")
    if not every:
        watched = watched.filter(watch_next_at__lte=now)
    settled = 0
    for request in watched:
        client = client or scp_client()
        settled += _look_again(request, client)
    for request in InterfaceRequest.objects.filter(WATCHED, watch_until__lte=now):
        transition(
            request,
            "watch_end",
            where=WATCHED,
            reason=None,
            payload={"reason": "SCP did not apply the write while the portal watched; it stays failed."},
            watch_until=None,
            watch_next_at=None,
        )
    return settled


def _look_again(request: InterfaceRequest, client: ScpClient) -> bool:
    with _scp_calls_for(request), in_language_of(request.requester_id):
        try:
            interfaces = client.list_server_interfaces(request.server_id)
        except ScpNotFound:
            interfaces = []
        except ScpError:
            return _next_look(request)
        if request.is_detach:
            listed = next((i for i in interfaces if i.port_id == request.port_id), None)
            if listed is not None and (listed.port_state or "").upper() != "DELETING":
                return _next_look(request)
            result = {"detached_port_id": request.port_id, "gone": listed is None, "port_kept": None}
            reason = _("Applied late: SCP detached the interface after the portal had found it still attached.")
            return transition(
                request,
                "applied_late",
                where=WATCHED,
                reason=reason,
                payload={"detach": result, "via": "late"},
                result=result,
                watch_until=None,
                watch_next_at=None,
            )
        verdict = _decide_ownership(request, interfaces)
        if verdict is None:
            return False
        if verdict.undecided:
            transition(
                request,
                "undecided_watched",
                where=WATCHED,
                reason=None,
                payload={"reason": verdict.undecided, "watched": True},
                updated_at=request.updated_at,  # the watch's backoff counts from when it began
            )
            return _next_look(request)
        if verdict.interface is None:
            return _next_look(request)
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
        return transition(
            request,
            event,
            where=WATCHED,
            reason=reason,
            payload={"interface": result, "via": "late"},
            result=result,
            result_port_id=found.port_id,
            watch_until=None,
            watch_next_at=None,
        )


def _next_look(request: InterfaceRequest) -> bool:
    """Back off: the next look after as long again as the request has been watched (a minute to an hour)."""
    watched_for = (_now() - request.updated_at).total_seconds()
    delay = min(max(watched_for, LATE_LOOK_FIRST_SECONDS), LATE_LOOK_CAP_SECONDS)
    InterfaceRequest.objects.filter(WATCHED, pk=request.pk).update(watch_next_at=_now() + dt.timedelta(seconds=delay))
    return False


def interface_request_cancel(*, request: InterfaceRequest, user) -> InterfaceRequest:
    """The requester withdraws a request that is pending, or approved but not yet claimed."""
    if request.requester_id != user.pk:
        raise deny(
            user=user,
            action=AuditAction.CANCEL_REFUSED,
            reason=_("Only the requester can cancel a request."),
            request=request,
        )
    if not transition(
        request, "cancel", reason=_("Cancelled by %(user)s.") % {"user": user.get_username()}, actor=user
    ):
        request.refresh_from_db()
        raise deny(
            user=user,
            action=AuditAction.CANCEL_REFUSED,
            reason=_("This request is %(status)s and can no longer be cancelled.")
            % {"status": request.get_status_display().lower()},
            request=request,
        )
    return request


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


def requests_reconcile_due(*, client: ScpClient | None = None) -> int:
    """Settle every request whose outcome is unknown, or that has been executing past its lease."""
    lease_over = _now() - dt.timedelta(seconds=settings.CONFIG.execution_lease_seconds)
    due = InterfaceRequest.objects.filter(status=Status.UNKNOWN) | InterfaceRequest.objects.filter(
        status=Status.EXECUTING, claimed_at__lt=lease_over
    )
    settled = 0
    for request in due:
        with contextlib.suppress(InvalidState):  # settled meanwhile by someone else
            settled += interface_request_reconcile(request_id=request.pk, client=client).is_final
    return settled + requests_watch_late(client=client)


# --- detach ------------------------------------------------------------------------------------------------------


def detach_validate(*, user, server_id: str, port_id: str, stage: str = "preview", client: ScpClient | None = None):
    """Validate a proposed detach on a server the user may request on; a refusal is audited with its reasons."""

    def check(client, owned):
        return validate_detach(
            client=client,
            server_id=server_id,
            port_id=port_id,
            owner_check=owned,
            busy_with=lambda p: interface_busy_with(server_id=server_id, port_id=p),
        )

    return _live_check(
        user=user,
        server_id=server_id,
        stage=stage,
        client=client,
        check=check,
        submitted={"action": "detach", "port_id": port_id[:200]},
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


def detach_request_submit(
    *,
    requester,
    idempotency_key: uuid.UUID,
    server_id: str,
    port_id: str,
    justification: str,
    client: ScpClient | None = None,
) -> InterfaceRequest:
    """Validate and record a detach under the same policies, approvals and lifecycle as an attach."""
    existing = InterfaceRequest.objects.filter(requester=requester, idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    if not can_request(requester):
        raise deny(user=requester, action=AuditAction.SUBMIT_REFUSED, reason=_("You may not submit requests."))
    plan = detach_validate(user=requester, server_id=server_id, port_id=port_id, stage="submit", client=client)
    interface = plan.interface
    fields = {
        "action": Action.DETACH,
        "mode": Mode.PORT,
        "port_id": interface.port_id,
        "port_name": ", ".join(interface.addresses)[:255],
        "subnet_id": interface.subnet_id or "",
        "fixed_ips": [],
    }
    return _record_request(
        requester=requester, idempotency_key=idempotency_key, plan=plan, fields=fields, justification=justification
    )


def _execute_detach(request: InterfaceRequest, client: ScpClient) -> InterfaceRequest:
    """Re-validate, write ahead, DELETE once, then poll until the interface is gone."""
    with _scp_calls_for(request):
        try:
            plan = validate_detach(
                client=client,
                server_id=request.server_id,
                port_id=request.port_id,
                busy_with=lambda p: interface_busy_with(server_id=request.server_id, port_id=p, exclude_pk=request.pk),
            )
        except AttachRejected as exc:
            return _fail_execution(
                request,
                reason=_("No longer possible: %(why)s") % {"why": exc.summary},
                payload={"stage": "revalidation", "sent": False},
            )
        except ScpUnavailable as exc:
            return _defer_execution(request, reason=str(exc), payload={"stage": "revalidation", "sent": False})
        ports_before = sorted(i.port_id for i in plan.interfaces)
        InterfaceRequest.objects.filter(pk=request.pk).update(ports_before=ports_before)
        record_event(
            action=AuditAction.DETACH_INTENT,
            outcome=Outcome.PENDING,
            payload={**request_preview(request=request, client=client), "interface": _interface_dump(plan.interface)},
            interface_request_id=request.pk,
            target=request.server_id,
        )
        try:
            client.detach_interface(request.server_id, request.port_id)
        except ScpNotSent:
            return _defer_execution(
                request, reason=_("SCP could not be reached."), payload={"stage": "detach", "sent": False}
            )
        except (ScpOutcomeUnknown, ScpResponseInvalid, ScpServerError) as exc:
            reason = _("SCP's answer was lost or unusable (%(error)s); checking the server.") % {
                "error": type(exc).__name__
            }
            transition(request, "lose_answer", reason=reason)
            return interface_request_reconcile(request_id=request.pk, client=client)
        except ScpHttpError as exc:
            payload = {"status": exc.status, "code": exc.code, "detail": exc.detail}
            if isinstance(exc, ScpNotFound):
                reason = _("The interface was no longer attached when the portal asked; nothing was detached.")
            else:
                reason = _failure_reason(request, exc)
            return _fail_execution(request, reason=reason, payload=payload)
        if _follow_up_later(request.pk):
            return request
        gone = _wait_until_gone(client, request)
    return _settle_detach(request, client, gone=gone, via="response")


def _interface_dump(interface: schemas.InterfaceResponse) -> dict:
    return interface.model_dump(mode="json", exclude_none=True)


def _wait_until_gone(client: ScpClient, request: InterfaceRequest) -> bool:
    """Poll the interface until SCP no longer lists it (404), up to the configured timeout."""
    config = settings.CONFIG
    deadline = time.monotonic() + config.scp_settle_timeout
    while True:
        try:
            client.get_server_interface(request.server_id, request.port_id)
        except ScpNotFound:
            return True
        except ScpError:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(config.scp_poll_interval)


def _settle_detach(request: InterfaceRequest, client: ScpClient, *, gone: bool, via: str) -> InterfaceRequest:
    kept = None
    if gone:
        try:
            port = client.get_port(request.port_id)
            kept = not port.is_attached
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
    transition(request, "succeed", reason=reason, payload={"detach": result, "via": via}, result=result)
    return request


def _reconcile_detach(request: InterfaceRequest, interfaces, client: ScpClient) -> InterfaceRequest:
    """Still listed (and not DELETING) → not applied; gone or DELETING → done. The DELETE is never sent again."""
    listed = next((i for i in interfaces if i.port_id == request.port_id), None)
    never_sent = request.ports_before is None
    if never_sent or (listed is not None and (listed.port_state or "").upper() != "DELETING"):
        reason = _("Not applied: the interface is still attached, so nothing was detached. You can submit again.")
        watch = _watch_fields(request)
        transition(request, "not_applied", reason=reason, payload={"found": True, **_watch_payload(watch)}, **watch)
        return request
    record_event(
        action=AuditAction.RECONCILED,
        outcome=Outcome.SUCCESS,
        payload={"found": listed is not None, "port_id": request.port_id, "detach": True},
        interface_request_id=request.pk,
        target=request.server_id,
    )
    gone = listed is None or _wait_until_gone(client, request)
    return _settle_detach(request, client, gone=gone, via="reconciliation")
