"""A Merkle tree over the audit log, as RFC 6962 / RFC 9162 define it (the first piece of signed checkpoints).

Hashing: a leaf is SHA-256(0x00 ‖ data), an inner node SHA-256(0x01 ‖ left ‖ right), the empty tree SHA-256("").
A tree of n leaves splits at k, the largest power of two below n: its left part is the perfect subtree of the first
k leaves. Leaf i of the audit tree is the 32-byte chain hash of the event with sequence number i + 1, so anyone
holding an export can recompute every root (`chain_leaf`).

Proofs are built from any source of subtree hashes (`hash_range(start, end)`: the hash of leaves [start, end)),
so that a store of the tree's perfect subtrees and a list in memory serve alike; `CompactRange` keeps a growing
tree's root from its right edge (log n hashes). Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 and needs
nothing but the proof: standard library only, no Django.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence

HashRange = Callable[[int, int], bytes]
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof that does not prove what it claims (or could not be made for these sizes)."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def chain_leaf(event_hash_hex: str) -> bytes:
    """The leaf hash of an audit event: its 32-byte chain hash (hex in the database and the export) as data."""
    data = bytes.fromhex(event_hash_hex)
    if len(data) != 32:
        raise ValueError("an audit chain hash has 32 bytes")
    return leaf_hash(data)


def split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): where a tree of n leaves splits."""
    return 1 << ((n - 1).bit_length() - 1)


class CompactRange:
    """The right edge of a growing tree: the roots of its perfect subtrees, largest first. Appending a leaf is
    amortised O(1); the root is O(log n)."""

    def __init__(self) -> None:
        self.size = 0
        self.peaks: list[bytes] = []  # one per set bit of size, from the highest

    def append(self, leaf: bytes) -> None:
        self.peaks.append(leaf)
        self.size += 1
        merges = (self.size & -self.size).bit_length() - 1  # the trailing zeros: perfect subtrees completed
        for _ in range(merges):
            right = self.peaks.pop()
            self.peaks[-1] = node_hash(self.peaks[-1], right)

    def root(self) -> bytes:
        if not self.peaks:
            return EMPTY_ROOT
        root = self.peaks[-1]
        for peak in reversed(self.peaks[:-1]):
            root = node_hash(peak, root)
        return root


def root_of(leaves: Sequence[bytes]) -> bytes:
    """The root of a tree with these leaf hashes."""
    compact = CompactRange()
    for leaf in leaves:
        compact.append(leaf)
    return compact.root()


def memory_ranges(leaves: Sequence[bytes]) -> HashRange:
    """`hash_range` over leaf hashes held in memory, perfect subtrees remembered (what a node store would keep)."""
    perfect: dict[tuple[int, int], bytes] = {}

    def hash_range(start: int, end: int) -> bytes:
        n = end - start
        if n <= 0 or start < 0 or end > len(leaves):
            raise ProofError(f"no leaves [{start}, {end}) in a tree of {len(leaves)}")
        if n == 1:
            return leaves[start]
        key = (start, end)
        if key in perfect:
            return perfect[key]
        k = split(n)
        value = node_hash(hash_range(start, start + k), hash_range(start + k, end))
        if n & (n - 1) == 0:
            perfect[key] = value
        return value

    return hash_range


def inclusion_proof(index: int, size: int, hash_range: HashRange) -> list[bytes]:
    """The audit path of leaf `index` in the tree of the first `size` leaves (RFC 9162 §2.1.3.1)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size}")
    path: list[bytes] = []
    start, n, m = 0, size, index
    while n > 1:  # from the root down; the path lists siblings from the leaf up
        k = split(n)
        if m < k:
            path.append(hash_range(start + k, start + n))
            n = k
        else:
            path.append(hash_range(start, start + k))
            start, n, m = start + k, n - k, m - k
    return path[::-1]


def consistency_proof(old: int, new: int, hash_range: HashRange) -> list[bytes]:
    """The proof that the tree of `new` leaves extends the tree of `old` (RFC 9162 §2.1.4.1)."""
    if not 0 < old <= new:
        raise ProofError(f"no consistency proof from {old} to {new}")
    if old == new:
        return []
    proof: list[bytes] = []
    start, n, m, whole = 0, new, old, True
    while m != n:
        k = split(n)
        if m <= k:
            proof.append(hash_range(start + k, start + n))
            n = k
        else:
            proof.append(hash_range(start, start + k))
            start, n, m, whole = start + k, n - k, m - k, False
    if not whole:
        proof.append(hash_range(start, start + n))
    return proof[::-1]


def _shift_while_even(fn: int, sn: int) -> tuple[int, int]:
    while fn and not fn & 1:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise ProofError unless `proof` shows `leaf` at `index` in the tree of `size` leaves with `root`."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size}")
    if len(leaf) != 32 or len(root) != 32:
        raise ProofError("a leaf hash and a root have 32 bytes")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if len(p) != 32 or sn == 0:
            raise ProofError("the proof is longer than the tree is deep, or not of 32-byte hashes")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            fn, sn = _shift_while_even(fn, sn)
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the proof is shorter than the tree is deep")
    if r != root:
        raise ProofError("the proof leads to another root")


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """Raise ProofError unless `proof` shows the tree of `new` leaves (`new_root`) extends that of `old`."""
    if old < 0 or old > new:
        raise ProofError(f"a tree of {old} cannot be extended by one of {new}")
    if old == 0:
        raise ProofError("every tree extends the empty one: there is nothing to prove")
    if old == new:
        if proof:
            raise ProofError("trees of one size need an empty proof")
        if old_root != new_root:
            raise ProofError("two trees of one size with different roots")
        return
    if len(old_root) != 32 or len(new_root) != 32:
        raise ProofError("a root has 32 bytes")
    if not proof or any(len(p) != 32 for p in proof):
        raise ProofError("a consistency proof of 32-byte hashes is needed")
    path = list(proof)
    if old & (old - 1) == 0:  # the old tree is a perfect subtree of the new one: its root starts the path
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:  # up to the old tree's rightmost perfect subtree that is a left child
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the proof is longer than the trees are deep")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            fn, sn = _shift_while_even(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the proof is shorter than the trees are deep")
    if fr != old_root or sr != new_root:
        raise ProofError("the proof leads to other roots")


def root_text(size: int, root: bytes) -> str:
    """A tree's size and root as one word to keep outside the database: `SIZE:BASE64`."""
    return f"{size}:{base64.b64encode(root).decode()}"


def parse_root(text: str) -> tuple[int, bytes]:
    """`SIZE:BASE64` back; ValueError with the reason for anything else."""
    size, _, encoded = text.strip().partition(":")
    try:
        root = base64.b64decode(encoded, validate=True)
    except ValueError:
        root = b""
    if not size.isdigit() or int(size) < 1 or len(root) != 32:
        raise ValueError(f"{text[:80]!r} is not SIZE:ROOT (a tree size and a base64 SHA-256 root)")
    return int(size), root


def roots_along(chain_hashes, sizes: set[int]) -> tuple[CompactRange, dict[int, bytes]]:
    """Stream an audit log's chain hashes (in sequence order, from the first event): the whole tree's compact
    range, and the roots of the prefixes of the given sizes on the way."""
    compact, found = CompactRange(), {}
    for event_hash in chain_hashes:
        compact.append(chain_leaf(event_hash))
        if compact.size in sizes:
            found[compact.size] = compact.root()
    return compact, found


def roots_verdict(compact: CompactRange, found: dict[int, bytes], kept: list[tuple[int, bytes]]) -> str | None:
    """Why the log no longer extends a root kept elsewhere (the first such), or None when it extends every one."""
    for size, root in kept:
        if size > compact.size:
            return (
                f"The log has {compact.size} events, but a tree of {size} was recorded: events at the end were deleted."
            )
        if found.get(size) != root:
            return (
                f"The first {size} events no longer make the root recorded for them: history was rewritten "
                "(every hash recomputed, or events replaced)."
            )
    return None
