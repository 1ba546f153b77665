"""The witnesses of the audit log, as the portal sees them (c2sp.org/tlog-witness, the log's side).

Each checkpoint, in the transaction that records it, leaves one outbox effect per witness of AUDIT_WITNESSES.
Delivering it sends the witness the checkpoint and a consistency proof from the last checkpoint that witness
cosigned; its cosignature is checked against the witness's key before it is kept. A witness that holds another
size (409) is answered once more from that size when it is a checkpoint the portal signed. One that refuses (the
checkpoint is not consistent with what it saw, or not signed by a key it trusts) is recorded as
`audit.witness_refused` and not asked again for that checkpoint; one that does not answer is asked again by the
outbox, with backoff. Cosignatures are kept without an audit event: they prove themselves, and an event for each
would grow the log every time it is checkpointed.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass

import requests
from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from . import note, proofs
from .events import AuditAction
from .models import AuditCheckpoint, AuditCosignature, Effect, Outcome
from .outbox import effect_add
from .services import record_event

WITNESS_EFFECT = "audit.witness_checkpoint"
TIMEOUT = (5.0, 20.0)


class WitnessUnavailable(Exception):
    """The witness did not answer, or answered with a server error: the outbox asks again later."""


@dataclass(frozen=True)
class Witness:
    url: str  # its submission prefix
    key: note.Verifier  # its cosigner key (type 0x04)

    @property
    def name(self) -> str:
        return self.key.name


def configured() -> list[Witness]:
    """The witnesses of AUDIT_WITNESSES (checked when the configuration was read)."""
    witnesses = []
    for item in settings.CONFIG.audit_witnesses:
        url, _, vkey = item.partition(" ")
        witnesses.append(Witness(url.rstrip("/"), note.Verifier.from_vkey(vkey)))
    return witnesses


def witnesses_ask(checkpoint: AuditCheckpoint) -> None:
    """Ask every witness to cosign `checkpoint` (in the caller's transaction: they commit together)."""
    for witness in configured():
        effect_add(WITNESS_EFFECT, args={"size": checkpoint.size, "witness": witness.name})


def _refused(witness: Witness, checkpoint: AuditCheckpoint, status: int, said: str) -> str:
    record_event(
        action=AuditAction.WITNESS_REFUSED,
        outcome=Outcome.FAILURE,
        payload={"witness": witness.name, "checkpoint": checkpoint.size, "status": status, "said": said[:500]},
        target="audit-log",
    )
    return f"{witness.name} refused checkpoint {checkpoint.size} ({status})"


def _post(witness: Witness, old: int, checkpoint: AuditCheckpoint) -> requests.Response:
    proof = proofs.consistency_between(old, checkpoint.size) if old else []
    body = f"old {old}\n" + "".join(base64.b64encode(h).decode() + "\n" for h in proof) + "\n" + checkpoint.note
    try:
        response = requests.post(
            f"{witness.url}/add-checkpoint", data=body.encode(), timeout=TIMEOUT, allow_redirects=False
        )
    except requests.RequestException as exc:
        raise WitnessUnavailable(f"{witness.name} did not answer: {type(exc).__name__}") from None
    if response.status_code >= 500:
        raise WitnessUnavailable(f"{witness.name} answered {response.status_code}")
    return response


def _keep(witness: Witness, checkpoint: AuditCheckpoint, answer: str) -> str:
    """Keep the cosignature of `witness` in its answer, once it verifies over the checkpoint."""
    lines = [line + "\n" for line in answer.split("\n") if line.startswith("— ")]
    try:
        _, signed = note.signatures_of(checkpoint.note + "".join(lines), [witness.key])
    except note.NoteError as exc:
        return _refused(witness, checkpoint, 200, f"its cosignature does not verify: {exc}")
    if not signed:
        return _refused(witness, checkpoint, 200, "its answer holds no cosignature by its key")
    _, timestamp, line = signed[0]
    AuditCosignature.objects.get_or_create(
        checkpoint=checkpoint,
        witness=witness.name,
        defaults={
            "key_id": witness.key.id,
            "signed_at": dt.datetime.fromtimestamp(timestamp, dt.UTC),
            "line": line,
            "received_at": timezone.now(),
        },
    )
    return f"{witness.name} cosigned checkpoint {checkpoint.size}"


def witness_submit(size: int, name: str) -> str:
    """Send checkpoint `size` to the witness `name` and keep its cosignature; what happened, in words."""
    witness = next((w for w in configured() if w.name == name), None)
    checkpoint = AuditCheckpoint.objects.filter(size=size).first()
    if witness is None or checkpoint is None:
        return f"{name} is no longer a witness, or checkpoint {size} is gone"
    held = AuditCosignature.objects.filter(witness=name).aggregate(size=Max("checkpoint__size"))["size"] or 0
    if held >= size:
        return f"{name} has cosigned checkpoint {held} already"
    old = held
    for _ in range(2):
        response = _post(witness, old, checkpoint)
        if response.status_code == 200:
            return _keep(witness, checkpoint, response.text)
        told = response.text.strip()
        if response.status_code != 409 or not told.isdigit() or len(told) > 18:
            return _refused(witness, checkpoint, response.status_code, response.text)
        if int(told) > size:
            return f"{name} holds checkpoint {told} already"
        if int(told) == old or (int(told) and not AuditCheckpoint.objects.filter(size=int(told)).exists()):
            return _refused(witness, checkpoint, 409, f"it holds size {told}, which the portal never signed")
        old = int(told)
    return _refused(witness, checkpoint, 409, "it moved on while it was asked")


def witness_deliver(effect: Effect) -> None:
    """The outbox's handler: proofs the portal cannot make (a log changed after signing) are refusals too."""
    try:
        witness_submit(int(effect.args["size"]), str(effect.args["witness"]))
    except proofs.ProofUnavailable as exc:
        record_event(
            action=AuditAction.WITNESS_REFUSED,
            outcome=Outcome.FAILURE,
            payload={"witness": effect.args["witness"], "checkpoint": effect.args["size"], "said": str(exc)},
            target="audit-log",
        )


def witness_states(now: dt.datetime | None = None) -> list[dict]:
    """Each witness: the newest checkpoint it cosigned, when, and whether it has gone quiet (a checkpoint signed
    more than AUDIT_WITNESS_QUIET_SECONDS ago that it has not cosigned, nor any after it)."""
    now = now or timezone.now()
    quiet_before = now - dt.timedelta(seconds=settings.CONFIG.audit_witness_quiet_seconds)
    waiting = AuditCheckpoint.objects.filter(created_at__lt=quiet_before).aggregate(size=Max("size"))["size"] or 0
    states = []
    for witness in configured():
        newest = AuditCosignature.objects.filter(witness=witness.name).select_related("checkpoint").first()
        size = newest.checkpoint.size if newest else 0
        states.append(
            {
                "name": witness.name,
                "size": size,
                "signed_at": newest.signed_at if newest else None,
                "age_seconds": (now - newest.received_at).total_seconds() if newest else None,
                "quiet": waiting > size,
            }
        )
    return states
