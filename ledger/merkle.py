"""RFC 9162 Merkle tree hashing and proof verification, as pure functions over hashes.

These are the independent verifiers: they need nothing but hashes (no database, no keys),
so an auditor can check an inclusion or consistency proof handed to them with this module
alone. ``root_from_leaves`` is the plain recursive definition (MTH), kept as the reference
the stored, incremental tree in ``ledger.store`` is tested against.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def largest_power_of_two_below(n: int) -> int:
    """k with k < n <= 2k (n > 1), the split point of RFC 9162 section 2.1.1."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaves(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of RFC 9162 2.1.1, given the leaf hashes."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = largest_power_of_two_below(n)
    return node_hash(root_from_leaves(leaf_hashes[:k]), root_from_leaves(leaf_hashes[k:]))


def inclusion_path_from_leaves(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 2.1.3.1 (reference implementation for tests)."""
    n = len(leaf_hashes)
    if not 0 <= index < n:
        raise ValueError("index outside the tree")
    if n == 1:
        return []
    k = largest_power_of_two_below(n)
    if index < k:
        return inclusion_path_from_leaves(index, leaf_hashes[:k]) + [root_from_leaves(leaf_hashes[k:])]
    return inclusion_path_from_leaves(index - k, leaf_hashes[k:]) + [root_from_leaves(leaf_hashes[:k])]


def consistency_proof_from_leaves(m: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 2.1.4.1 (reference implementation for tests)."""
    n = len(leaf_hashes)
    if not 0 <= m <= n:
        raise ValueError("old size larger than new size")
    if m == 0 or m == n:
        return []
    return _subproof(m, leaf_hashes, True)


def _subproof(m: int, d: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if complete else [root_from_leaves(d)]
    k = largest_power_of_two_below(n)
    if m <= k:
        return _subproof(m, d[:k], complete) + [root_from_leaves(d[k:])]
    return _subproof(m - k, d[k:], False) + [root_from_leaves(d[:k])]


def root_from_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """The root implied by an inclusion proof (RFC 9162 2.1.3.2), or None if malformed."""
    if not 0 <= index < size or len(leaf) != HASH_SIZE:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if len(p) != HASH_SIZE or sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return None
    return r


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes) -> bool:
    """True iff ``path`` proves leaf hash ``leaf`` is at ``index`` of the tree of ``size`` with ``root``."""
    got = root_from_inclusion(leaf, index, size, path)
    return got is not None and got == root


def verify_consistency(m: int, n: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """True iff ``proof`` shows the tree of size ``m`` (``old_root``) is a prefix of size ``n``
    (``new_root``), per RFC 9162 2.1.4.2. An empty old tree is consistent with anything."""
    if not 0 <= m <= n:
        return False
    if m == n:
        return not proof and old_root == new_root
    if m == 0:
        return not proof
    if not proof or any(len(p) != HASH_SIZE for p in proof):
        return False
    path = list(proof)
    if m & (m - 1) == 0:
        path.insert(0, old_root)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


def perfect_subtrees(size: int) -> list[tuple[int, int]]:
    """The (level, index) of the complete aligned subtrees a tree of ``size`` decomposes into,
    left to right; its root is their right fold. A subtree at (level, i) covers leaves
    [i·2^level, (i+1)·2^level)."""
    out = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            out.append((level, start >> level))
            start += 1 << level
    return out
