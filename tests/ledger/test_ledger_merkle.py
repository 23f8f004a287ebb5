"""RFC 9162 Merkle tree: published reference vectors, every proof up to 64 leaves from the
stored tree, and tampered proofs, roots, leaves and sizes that must fail."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import merkle
from ledger.store import Ledger
from tests.fixtures.ledger import build_ledger

# Reference vectors of the RFC 6962 tree: transparency-dev/merkle, proof/verify_test.go
# (commit 02194e9afb6c1d95b5381350007963aa70fff472), the same data as Certificate
# Transparency's merkle tree tests: leaves and the roots of the trees of their first n leaves.
CT_LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f",
)]
CT_ROOTS = [bytes.fromhex(h) for h in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
# (leaf index 1-based, tree size, path) and (size1, size2, proof) from the same file.
CT_INCLUSION = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (2, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CT_CONSISTENCY = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]
CT_LEAF_HASHES = [merkle.leaf_hash(d) for d in CT_LEAVES]


@pytest.mark.parametrize("n", range(1, 9))
def test_roots_match_ct_reference_vectors(n: int) -> None:
    assert merkle.root_from_leaves(CT_LEAF_HASHES[:n]) == CT_ROOTS[n - 1]


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert merkle.root_from_leaves([]) == hashlib.sha256(b"").digest() == merkle.EMPTY_ROOT


@pytest.mark.parametrize(("leaf", "size", "path"), CT_INCLUSION)
def test_inclusion_matches_ct_reference_proofs(leaf: int, size: int, path: list[str]) -> None:
    want = [bytes.fromhex(h) for h in path]
    assert merkle.inclusion_path_from_leaves(leaf - 1, CT_LEAF_HASHES[:size]) == want
    assert merkle.verify_inclusion(CT_LEAF_HASHES[leaf - 1], leaf - 1, size, want, CT_ROOTS[size - 1])


@pytest.mark.parametrize(("m", "n", "proof"), CT_CONSISTENCY)
def test_consistency_matches_ct_reference_proofs(m: int, n: int, proof: list[str]) -> None:
    want = [bytes.fromhex(h) for h in proof]
    assert merkle.consistency_proof_from_leaves(m, CT_LEAF_HASHES[:n]) == want
    assert merkle.verify_consistency(m, n, CT_ROOTS[m - 1], CT_ROOTS[n - 1], want)


def test_trivial_consistency_cases() -> None:
    r1, r2 = CT_ROOTS[0], CT_ROOTS[1]
    assert merkle.verify_consistency(0, 0, r1, r1, [])
    assert merkle.verify_consistency(0, 5, r1, r2, [])  # the empty tree is a prefix of anything
    assert merkle.verify_consistency(3, 3, r2, r2, [])
    assert not merkle.verify_consistency(3, 3, r1, r2, [])
    assert not merkle.verify_consistency(3, 3, r1, r1, [r1])
    assert not merkle.verify_consistency(2, 1, r1, r2, [])
    assert not merkle.verify_consistency(1, 2, r1, r2, [])


def _flip(h: bytes, bit: int = 0) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


def _path_len(index: int, size: int) -> int:
    return len(merkle.inclusion_path_from_leaves(index, [bytes(32)] * size))


def _proof_len(m: int, n: int) -> int:
    return len(merkle.consistency_proof_from_leaves(m, [bytes(32)] * n))


def _bad_inclusions(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes):
    """Every way of getting the proof wrong that a verifier must reject."""
    yield "leaf", _flip(leaf), index, size, path, root
    yield "root", leaf, index, size, path, _flip(root)
    yield "index+1", leaf, index + 1, size, path, root
    if index > 0:
        yield "index-1", leaf, index - 1, size, path, root
    yield "index^2", leaf, index ^ 2, size, path, root
    # A different size is rejected whenever its proof would have another shape. (Where the
    # shape is the same, only the root tells the sizes apart, and the signed checkpoint binds
    # root and size together.)
    for other in {size * 2, size // 2, size + 1, size - 1, size + 7}:
        if other != size and (other <= index or _path_len(index, other) != len(path)):
            yield f"size {other}", leaf, index, other, path, root
    yield "trailing", leaf, index, size, [*path, root], root
    yield "preceding", leaf, index, size, [root, *path], root
    for i in range(len(path)):
        yield f"path[{i}]", leaf, index, size, [*path[:i], _flip(path[i], 3), *path[i + 1:]], root
    if path:
        yield "truncated", leaf, index, size, path[:-1], root


def _bad_consistencies(m: int, n: int, r1: bytes, r2: bytes, proof: list[bytes]):
    yield "root1", m, n, _flip(r1), r2, proof
    yield "root2", m, n, r1, _flip(r2), proof
    yield "swapped", m, n, r2, r1, proof
    for m2, n2 in {(m + 1, n), (m - 1, n), (m ^ 2, n), (m, n * 2), (m, n // 2), (m, n + 1), (m, n - 1)}:
        if (m2, n2) != (m, n) and (not 0 < m2 < n2 or _proof_len(m2, n2) != len(proof)):
            yield f"sizes {m2},{n2}", m2, n2, r1, r2, proof
    yield "empty", m, n, r1, r2, []
    yield "trailing", m, n, r1, r2, [*proof, r1]
    yield "preceding", m, n, r1, r2, [r2, *proof]
    yield "truncated", m, n, r1, r2, proof[:-1]
    for i in range(len(proof)):
        yield f"proof[{i}]", m, n, r1, r2, [*proof[:i], _flip(proof[i], 4), *proof[i + 1:]]


@pytest.fixture(scope="module")
def ledger64(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    setup = build_ledger(tmp_path_factory.mktemp("merkle") / "l.db", segments=62)
    lg = Ledger.open(setup.path, readonly=True)
    assert lg.size == 64
    yield lg
    lg.close()


def test_every_inclusion_proof_up_to_64_verifies_and_mutations_fail(ledger64: Ledger) -> None:
    leaves = [e.leaf_hash for e in ledger64.entries()]
    checked = rejected = 0
    for n in range(1, 65):
        root = ledger64.root(n)
        assert root == merkle.root_from_leaves(leaves[:n])
        for i in range(n):
            path = ledger64.inclusion_proof(i, n)
            assert path == merkle.inclusion_path_from_leaves(i, leaves[:n])
            assert merkle.verify_inclusion(leaves[i], i, n, path, root), (i, n)
            checked += 1
            for what, *args in _bad_inclusions(leaves[i], i, n, path, root):
                assert not merkle.verify_inclusion(*args), (what, i, n)
                rejected += 1
    assert checked == 64 * 65 // 2
    assert rejected > 10 * checked


def test_every_consistency_proof_up_to_64_verifies_and_mutations_fail(ledger64: Ledger) -> None:
    leaves = [e.leaf_hash for e in ledger64.entries()]
    roots = [ledger64.root(n) for n in range(65)]
    checked = 0
    for n in range(1, 65):
        for m in range(0, n + 1):
            proof = ledger64.consistency_proof(m, n)
            assert proof == merkle.consistency_proof_from_leaves(m, leaves[:n]), (m, n)
            assert merkle.verify_consistency(m, n, roots[m], roots[n], proof), (m, n)
            checked += 1
            if m == 0 or m == n:
                continue
            for what, *args in _bad_consistencies(m, n, roots[m], roots[n], proof):
                assert not merkle.verify_consistency(*args), (what, m, n)
    assert checked == sum(n + 1 for n in range(1, 65))


def test_proofs_read_log_n_nodes_not_the_tree(tmp_path: Path) -> None:
    """Proofs come from stored subtree hashes: a proof touches O(log n) rows, never all leaves."""
    setup = build_ledger(tmp_path / "l.db", segments=1000)
    with Ledger.open(setup.path, readonly=True) as lg:
        reads = []
        lg.conn.set_trace_callback(reads.append)
        path = lg.inclusion_proof(517, 1002)
        root = lg.root(1002)
        lg.conn.set_trace_callback(None)
        assert merkle.verify_inclusion(lg.get(517).leaf_hash, 517, 1002, path, root)
        node_reads = [s for s in reads if "merkle_nodes" in s or "leaf_hash FROM entries" in s]
        assert len(node_reads) <= 4 * 11


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=70), st.data())
def test_reference_proofs_verify_for_random_trees(data_leaves: list[bytes], data: st.DataObject) -> None:
    leaves = [merkle.leaf_hash(d) for d in data_leaves]
    n = len(leaves)
    root = merkle.root_from_leaves(leaves)
    i = data.draw(st.integers(0, n - 1))
    path = merkle.inclusion_path_from_leaves(i, leaves)
    assert merkle.verify_inclusion(leaves[i], i, n, path, root)
    m = data.draw(st.integers(0, n))
    proof = merkle.consistency_proof_from_leaves(m, leaves)
    assert merkle.verify_consistency(m, n, merkle.root_from_leaves(leaves[:m]), root, proof)
    other = data.draw(st.binary(min_size=1, max_size=8))
    assert not merkle.verify_inclusion(merkle.leaf_hash(data_leaves[i] + other), i, n, path, root)


def test_perfect_subtrees_decompose_the_size() -> None:
    for size in range(0, 300):
        parts = merkle.perfect_subtrees(size)
        assert sum(1 << level for level, _ in parts) == size
        start = 0
        for level, index in parts:
            assert index << level == start
            start += 1 << level
