"""Which interface an attach made, when its answer was lost: provable ownership among the server's requests.

An attach by subnet is not idempotent and SCP does not say which POST made which port, so a lost answer is
settled by reading the server. The portal makes one write at a time on a server (services.execution), so the
interfaces that appeared since a request's snapshot were made by it, by no one (a write from outside the portal:
drift), or by a write SCP carried out after its late-apply window (the rare late write, watched for a day).
An interface is a request's when that request is the only one that can have made it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models, transaction
from django.utils.translation import gettext as _

from portal.scp import schemas

from ..models import InterfaceRequest, Mode, Status

UNSETTLED = (Status.EXECUTING, Status.UNKNOWN)


@dataclass(frozen=True)
class Verdict:
    interface: schemas.InterfaceResponse | None = None  # provably this request's
    undecided: str = ""  # why the portal cannot tell yet; empty with no interface: provably not applied


def _could_have_made(request: InterfaceRequest, interface: schemas.InterfaceResponse) -> bool:
    """Whether this request's POST could have produced `interface` (it did not exist before the POST, and SCP
    did not answer with another port: one POST makes one interface)."""
    if request.result_port_id and request.result_port_id != interface.port_id:
        return False
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


def _origins(
    interface: schemas.InterfaceResponse, request: InterfaceRequest, rivals: list[InterfaceRequest]
) -> list[InterfaceRequest]:
    """The requests that can have made `interface`: those that named it if any did; else those that could have,
    among the open ones only when `request` is open (a watched request never holds an open one back)."""
    everyone = [request, *rivals]
    namers = [r for r in everyone if _names(r, interface) and _could_have_made(r, interface)]
    if namers:
        return namers
    if _is_open(request):
        everyone = [request, *(r for r in rivals if _is_open(r))]
    return [r for r in everyone if _could_have_made(r, interface)]


def ownership(
    request: InterfaceRequest, interfaces: list[schemas.InterfaceResponse], *, rivals: list[InterfaceRequest]
) -> Verdict:
    """Which of the server's interfaces this request can prove is its own.

    Another request's settled port is never a candidate. A candidate is this request's when no rival can have
    made it too: one that named it (its port, or its fixed IPs) can only be a namer's; one with an address SCP
    chose, any request's that asked for an automatic address on its subnet. An open request (executing or
    unknown) contends only with open rivals, of which one write at a time per server leaves none: a watched
    request's window is over, so it never holds an open one back. A watched request waits for open rivals to
    settle first, and one contested by another watched request stays unsettled, its interface shown as drift.
    """
    claimed = set(
        InterfaceRequest.objects.filter(server_id=request.server_id)
        .exclude(pk=request.pk)
        .exclude(result_port_id="")
        .values_list("result_port_id", flat=True)
    )
    origins = {i.port_id: _origins(i, request, rivals) for i in interfaces if i.port_id not in claimed}
    candidates = [i for i in interfaces if request in origins.get(i.port_id, [])]
    if not candidates:
        return Verdict()
    mine = [i for i in candidates if origins[i.port_id] == [request]]
    if len(mine) == 1:
        return Verdict(mine[0])
    if mine:
        undecided = _("%(n)d new interfaces could each be this request's; an operator must tell.") % {"n": len(mine)}
        return Verdict(undecided=undecided)
    others = sorted({r.pk for i in candidates for r in origins[i.port_id] if r.pk != request.pk})
    return Verdict(
        undecided=_(
            "An interface that this request may have made could also come from request(s) %(others)s, whose outcome "
            "is still open; the portal decides once they have settled."
        )
        % {"others": ", ".join(map(str, others))}
    )


WATCHED = models.Q(status=Status.FAILED, watch_until__isnull=False)


def decide_ownership(request: InterfaceRequest, interfaces: list[schemas.InterfaceResponse]) -> Verdict | None:
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
        verdict = ownership(me, interfaces, rivals=[r for r in locked if r.pk != me.pk])
        if verdict.interface is not None:
            InterfaceRequest.objects.filter(pk=me.pk).update(result_port_id=verdict.interface.port_id)
        return verdict
