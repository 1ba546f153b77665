"""A request's receipt (audit.receipt's format): its audit events, each with its inclusion proof, against the newest
checkpoint that covers them and that a witness cosigned (any signed one when no witness is configured).

Events newer than that checkpoint are left out and counted, so a receipt can be fetched again later for them.
Before it is made, every event is held to its chain hash: a log changed since it was signed gives no receipt.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from . import proofs, witnessing
from .chain import HASHED_FIELDS, canonical, event_hash
from .events import AuditAction
from .models import AuditCheckpoint, AuditEvent, Outcome
from .receipt import SUFFIX, proof_text
from .services import record_event


class ReceiptUnavailable(Exception):
    """No receipt yet (no checkpoint covers the events), or none can be made; the message says which."""


@dataclass(frozen=True)
class Receipt:
    text: str
    filename: str
    checkpoint: AuditCheckpoint
    events: int
    left_out: int  # events newer than the checkpoint


def _checkpoint_for(first_seq: int) -> AuditCheckpoint | None:
    checkpoints = AuditCheckpoint.objects.filter(size__gte=first_seq)
    if witnessing.configured():
        checkpoints = checkpoints.filter(cosignatures__isnull=False).distinct()
    return checkpoints.order_by("-size").first()


def receipt_for(interface_request_id: int) -> Receipt:
    """The receipt of one request's audit events (its access is the caller's to check)."""
    rows = list(
        AuditEvent.objects.filter(interface_request_id=interface_request_id)
        .order_by("seq")
        .values(*HASHED_FIELDS, "hash")
    )
    if not rows:
        raise ReceiptUnavailable(_("This request has no audit events."))
    checkpoint = _checkpoint_for(rows[0]["seq"])
    if checkpoint is None:
        every = settings.CONFIG.audit_checkpoint_interval // 60 or 1
        when = ngettext("one is signed every minute", "one is signed every %(n)d minutes", every) % {"n": every}
        if witnessing.configured():
            raise ReceiptUnavailable(
                _(
                    "The receipt is ready once a checkpoint covers this request's events and a witness has "
                    "cosigned it (%(when)s)."
                )
                % {"when": when}
            )
        raise ReceiptUnavailable(
            _("The receipt is ready once a checkpoint covers this request's events (%(when)s).") % {"when": when}
        )
    covered = [row for row in rows if row["seq"] <= checkpoint.size]
    if any(event_hash(row) != row["hash"] for row in covered):
        raise ReceiptUnavailable(_("An event of this request no longer matches its hash: the audit log was changed."))
    try:
        inclusion = proofs.inclusions_in(checkpoint, [row["seq"] for row in covered])
    except proofs.ProofUnavailable as exc:
        raise ReceiptUnavailable(str(exc)) from None
    signed = checkpoint.note + "".join(c.line for c in checkpoint.cosignatures.order_by("witness"))
    text = "".join(proof_text(canonical(row), row["seq"], inclusion[row["seq"]], signed) for row in covered)
    return Receipt(
        text=text,
        filename=f"request-{interface_request_id}-checkpoint-{checkpoint.size}{SUFFIX}",
        checkpoint=checkpoint,
        events=len(covered),
        left_out=len(rows) - len(covered),
    )


def receipt_issue(interface_request_id: int) -> Receipt:
    """A receipt for someone who may see the request, recorded (like an export) without joining its timeline."""
    receipt = receipt_for(interface_request_id)
    record_event(
        action=AuditAction.RECEIPT_ISSUED,
        outcome=Outcome.SUCCESS,
        payload={"request": interface_request_id, "checkpoint": receipt.checkpoint.size, "events": receipt.events},
        target=f"interface-request:{interface_request_id}",
    )
    return receipt
