"""RFC 6962 / RFC 9162 Merkle trees over leaf hashes: tree hashes, inclusion and consistency
proofs, and their verification (docs/audit-log.md, "The tree").

Everything here takes *leaf hashes* (``leaves.leaf_hash`` of each entry), never raw leaves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from courtyard.domains.audit.leaves import node_hash

EMPTY_ROOT = hashlib.sha256(b"").digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n > 1``)."""
    return 1 << ((n - 1).bit_length() - 1)


Subtree = Callable[[int, int], bytes]


def _plain(leaves: Sequence[bytes]) -> Subtree:
    def mth(lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return leaves[lo]
        k = _split(hi - lo)
        return node_hash(mth(lo, lo + k), mth(lo + k, hi))

    return mth


def tree_hash(leaves: Sequence[bytes]) -> bytes:
    """``MTH`` of the leaf hashes (RFC 6962 §2.1); the empty tree's is ``SHA-256("")``."""
    return _plain(leaves)(0, len(leaves)) if leaves else EMPTY_ROOT


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``leaves`` (RFC 6962 §2.1.1)."""
    return _path(index, len(leaves), _plain(leaves))


def consistency_proof(first: int, leaves: Sequence[bytes]) -> list[bytes]:
    """The proof that the tree of the first ``first`` leaves is a prefix of the tree of all
    ``leaves`` (RFC 6962 §2.1.2); empty when ``first`` is 0 or the whole tree."""
    return _proof(first, len(leaves), _plain(leaves))


def _path(index: int, size: int, mth: Subtree) -> list[bytes]:
    if not 0 <= index < size:
        raise ValueError("index out of range")
    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:  # walk down, collecting the sibling of each subtree on the way
        k = _split(hi - lo)
        if index < lo + k:
            path.append(mth(lo + k, hi))
            hi = lo + k
        else:
            path.append(mth(lo, lo + k))
            lo += k
    path.reverse()  # the proof lists siblings from the leaf up
    return path


def _proof(first: int, size: int, mth: Subtree) -> list[bytes]:
    if not 0 <= first <= size:
        raise ValueError("first out of range")
    if first in (0, size):
        return []
    return _subproof(first, 0, size, True, mth)


def _subproof(m: int, lo: int, hi: int, whole: bool, mth: Subtree) -> list[bytes]:
    n = hi - lo
    if m == n:
        return [] if whole else [mth(lo, hi)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, lo, lo + k, whole, mth), mth(lo + k, hi)]
    return [*_subproof(m - k, lo + k, hi, False, mth), mth(lo, lo + k)]


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes | None:
    """The root that ``path`` proves ``leaf`` at ``index`` into, or None if the path has the
    wrong shape for a tree of ``size`` (RFC 9162 §2.1.3.2)."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``path`` proves leaf hash ``leaf`` is at ``index`` in the tree ``root``."""
    return root_from_inclusion(index, size, leaf, path) == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree ``first_root`` of size ``first`` is a prefix of the
    tree ``second_root`` of size ``second`` (RFC 9162 §2.1.4.2)."""
    if not 0 <= first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof  # every tree extends the empty one
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the old root is a node of the new tree
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
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
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


class Frontier:
    """The roots of the perfect subtrees that make up the leaves appended so far (one per set
    bit of the size), so the root of each prefix comes from a single pass over the leaves."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []  # (height, root), tallest first

    def append(self, leaf: bytes) -> None:
        height, node = 0, leaf
        while self._stack and self._stack[-1][0] == height:
            _, left = self._stack.pop()
            node = node_hash(left, node)
            height += 1
        self._stack.append((height, node))
        self.size += 1

    def root(self) -> bytes:
        """``MTH`` of the leaves appended so far: the subtrees folded from the right, which
        is RFC 6962's split at the largest power of two, applied again and again."""
        if not self._stack:
            return EMPTY_ROOT
        node = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            node = node_hash(left, node)
        return node


class TreeCache:
    """The leaf hashes of an append-only log, remembering the roots of complete subtrees of
    ``MEMO_MIN`` leaves or more (they never change), so roots and proofs of any size cost
    about ``MEMO_MIN * log2(size)`` hashes once the cache is warm."""

    MEMO_MIN = 256

    def __init__(self) -> None:
        self.leaves: list[bytes] = []
        self._memo: dict[tuple[int, int], bytes] = {}

    def __len__(self) -> int:
        return len(self.leaves)

    def _mth(self, lo: int, hi: int) -> bytes:
        n = hi - lo
        if n == 1:
            return self.leaves[lo]
        complete = n & (n - 1) == 0 and n >= self.MEMO_MIN
        if complete and (found := self._memo.get((lo, hi))) is not None:
            return found
        k = _split(n)
        node = node_hash(self._mth(lo, lo + k), self._mth(lo + k, hi))
        if complete:
            self._memo[(lo, hi)] = node
        return node

    def _check(self, size: int) -> None:
        if not 0 <= size <= len(self.leaves):
            raise ValueError("size out of range")

    def root(self, size: int) -> bytes:
        """``MTH`` of the first ``size`` leaves."""
        self._check(size)
        return self._mth(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        self._check(size)
        return _path(index, size, self._mth)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        self._check(second)
        return _proof(first, second, self._mth)
