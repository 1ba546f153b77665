"""Merkle proofs over the audit log's events, for checkpoints the portal signed: consistency between two of them
(for witnesses and anyone who kept one) and the inclusion of events (for receipts).

Each proof is built from the events' chain hashes read in order up to the checkpoint's size, and the tree is held
to the checkpoint's signed root before a proof leaves: a log changed since it was signed yields no proof.
"""

from __future__ import annotations

from .merkle import HashRange, chain_leaf, consistency_proof, inclusion_proof, memory_ranges
from .models import AuditCheckpoint, AuditEvent


class ProofUnavailable(Exception):
    """No proof can be made for these sizes: not signed checkpoints, or the log no longer holds their events."""


def _tree(size: int) -> HashRange:
    hashes = AuditEvent.objects.filter(seq__lte=size).order_by("seq").values_list("hash", flat=True)
    leaves = [chain_leaf(h) for h in hashes.iterator(chunk_size=5000)]
    if len(leaves) != size:
        raise ProofUnavailable("The log no longer holds every event of these checkpoints.")
    tree = memory_ranges(leaves)
    signed = AuditCheckpoint.objects.filter(size=size).values_list("root", flat=True).first()
    if size and signed is not None and tree(0, size).hex() != signed:
        raise ProofUnavailable(f"The log's events no longer make checkpoint {size}'s root: history was rewritten.")
    return tree


def consistency_between(old: int, new: int) -> list[bytes]:
    """The consistency proof from checkpoint `old` to checkpoint `new` (both signed sizes), from the events."""
    sizes = set(AuditCheckpoint.objects.filter(size__in=(old, new)).values_list("size", flat=True))
    if {old, new} - sizes or old > new:
        raise ProofUnavailable("Both sizes must be of signed checkpoints, the old one first.")
    return consistency_proof(old, new, _tree(new))


def inclusions_in(checkpoint: AuditCheckpoint, seqs: list[int]) -> dict[int, list[bytes]]:
    """The inclusion proof of each event (by sequence number) in `checkpoint`'s tree."""
    if any(not 1 <= seq <= checkpoint.size for seq in seqs):
        raise ProofUnavailable(f"An event is not in checkpoint {checkpoint.size}.")
    tree = _tree(checkpoint.size)
    return {seq: inclusion_proof(seq - 1, checkpoint.size, tree) for seq in seqs}
