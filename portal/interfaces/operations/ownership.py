"""Which interface an attach made, when its answer was lost: provable ownership among the server's requests.

An attach by subnet is not idempotent and SCP does not say which POST made which port, so a lost answer is
settled by reading the server: an interface this request could have made, that no rival could also have made,
is this request's.
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


def ownership(
    request: InterfaceRequest, interfaces: list[schemas.InterfaceResponse], *, rivals: list[InterfaceRequest]
) -> Verdict:
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
        return Verdict()
    sole = [i for i in candidates if not contested[i.port_id]]
    if len(sole) == 1:
        return Verdict(sole[0])
    if sole:
        undecided = _("%(n)d new interfaces could each be this request's; an operator must tell.") % {"n": len(sole)}
        return Verdict(undecided=undecided)
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
        return Verdict(pool[contenders.index(request)])
    others = ", ".join(str(r.pk) for r in contenders if r.pk != request.pk)
    return Verdict(
        undecided=_(
            "An interface that this request may have made could also come from request(s) %(others)s, whose outcome "
            "is still open; the portal decides once they have settled."
        )
        % {"others": others}
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
