"""The audit log's Merkle tree against RFC 6962's test tree and proof vectors (transparency-dev/merkle's, positive
and negative), and against a second implementation written here from the RFC's recursive definitions."""

import base64
import hashlib
import json
from pathlib import Path

import pytest

from portal.audit import merkle
from portal.audit.merkle import ProofError

VECTORS = json.loads((Path(__file__).parent / "rfc6962_vectors.json").read_text())
# RFC 6962's test tree: its eight leaf inputs and the root of each prefix (transparency-dev/merkle testonly/).
LEAF_INPUTS = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
TEST_LEAVES = [merkle.leaf_hash(bytes.fromhex(x)) for x in LEAF_INPUTS]


def b64(value):
    return base64.b64decode(value) if value else b""


def proof_of(vector):
    return [b64(p) for p in vector["proof"] or []]


# --- a second implementation, straight from RFC 6962 §2.1 (recursive, no shortcuts) -------------------------------
def rfc_mth(d):
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = 1
    while k * 2 < len(d):
        k *= 2
    return hashlib.sha256(b"\x01" + rfc_mth(d[:k]) + rfc_mth(d[k:])).digest()


def rfc_path(m, d):
    if len(d) <= 1:
        return []
    k = 1
    while k * 2 < len(d):
        k *= 2
    return rfc_path(m, d[:k]) + [rfc_mth(d[k:])] if m < k else rfc_path(m - k, d[k:]) + [rfc_mth(d[:k])]


def rfc_subproof(m, d, b):
    if m == len(d):
        return [] if b else [rfc_mth(d)]
    k = 1
    while k * 2 < len(d):
        k *= 2
    if m <= k:
        return rfc_subproof(m, d[:k], b) + [rfc_mth(d[k:])]
    return rfc_subproof(m - k, d[k:], False) + [rfc_mth(d[:k])]


# ------------------------------------------------------------------------------------------------------------------
def test_the_roots_of_rfc_6962s_test_tree():
    for size, root in enumerate(ROOTS):
        assert merkle.root_of(TEST_LEAVES[:size]).hex() == root
        assert rfc_mth([bytes.fromhex(x) for x in LEAF_INPUTS[:size]]).hex() == root


@pytest.mark.parametrize("name", sorted(VECTORS["inclusion"]))
def test_inclusion_vectors(name):
    vector = VECTORS["inclusion"][name]
    check = lambda: merkle.verify_inclusion(  # noqa: E731
        vector["leafIdx"], vector["treeSize"], b64(vector["leafHash"]), proof_of(vector), b64(vector["root"])
    )
    if vector["wantErr"]:
        with pytest.raises(ProofError):
            check()
    else:
        check()


@pytest.mark.parametrize("name", sorted(VECTORS["consistency"]))
def test_consistency_vectors(name):
    vector = VECTORS["consistency"][name]
    check = lambda: merkle.verify_consistency(  # noqa: E731
        vector["size1"], vector["size2"], b64(vector["root1"]), b64(vector["root2"]), proof_of(vector)
    )
    if vector["wantErr"]:
        with pytest.raises(ProofError):
            check()
    else:
        check()


def test_the_proofs_made_for_the_test_tree_are_the_vectors_happy_paths():
    ranges = merkle.memory_ranges(TEST_LEAVES)
    matched = 0
    for kind, vectors in VECTORS.items():
        for vector in vectors.values() if isinstance(vectors, dict) else ():
            if vector["wantErr"] or vector["desc"] != "happy path":
                continue
            if kind == "inclusion" and vector["root"] and b64(vector["root"]).hex() == ROOTS[vector["treeSize"]]:
                made = merkle.inclusion_proof(vector["leafIdx"], vector["treeSize"], ranges)
            elif kind == "consistency" and vector["size1"] and b64(vector["root2"]).hex() == ROOTS[vector["size2"]]:
                made = merkle.consistency_proof(vector["size1"], vector["size2"], ranges)
            else:
                continue
            assert made == proof_of(vector), vector
            matched += 1
    assert matched >= 8


def test_every_proof_up_to_40_leaves_matches_the_rfc_and_verifies_and_one_wrong_byte_fails():
    data = [hashlib.sha256(str(i).encode()).digest() for i in range(40)]
    leaves = [merkle.leaf_hash(x) for x in data]
    ranges = merkle.memory_ranges(leaves)
    roots = [merkle.root_of(leaves[:n]) for n in range(41)]
    assert roots == [rfc_mth(data[:n]) for n in range(41)]
    for n in range(1, 41):
        for m in range(n):
            proof = merkle.inclusion_proof(m, n, ranges)
            assert proof == rfc_path(m, data[:n])
            merkle.verify_inclusion(m, n, leaves[m], proof, roots[n])
            with pytest.raises(ProofError):
                merkle.verify_inclusion(m, n, leaves[(m + 1) % n] if n > 1 else b"\0" * 32, proof, roots[n])
        for m in range(1, n + 1):
            proof = merkle.consistency_proof(m, n, ranges)
            assert proof == (rfc_subproof(m, data[:n], True) if m < n else [])
            merkle.verify_consistency(m, n, roots[m], roots[n], proof)
            if proof:
                spoiled = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
                for bad in (spoiled, proof[:-1], [*proof, proof[-1]]):
                    with pytest.raises(ProofError):
                        merkle.verify_consistency(m, n, roots[m], roots[n], bad)


def test_a_rewritten_history_or_a_shorter_log_is_not_consistent_with_an_earlier_root():
    hashes = [hashlib.sha256(f"event {i}".encode()).hexdigest() for i in range(1, 21)]
    leaves = [merkle.chain_leaf(h) for h in hashes]
    kept_root = merkle.root_of(leaves[:12])  # a checkpoint someone kept at 12 events
    rewritten = [*leaves[:5], merkle.chain_leaf("ab" * 32), *leaves[6:]]  # event 6 changed, every later hash too
    proof = merkle.consistency_proof(12, 20, merkle.memory_ranges(rewritten))
    with pytest.raises(ProofError):
        merkle.verify_consistency(12, 20, kept_root, merkle.root_of(rewritten), proof)
    with pytest.raises(ProofError):  # the newest events deleted: the log is smaller than what was published
        merkle.verify_consistency(12, 10, kept_root, merkle.root_of(leaves[:10]), [])
    with pytest.raises(ValueError):
        merkle.chain_leaf("abcd")  # not a chain hash
