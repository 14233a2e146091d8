"""The audit log's Merkle tree: RFC 6962 roots and proofs, checked against the public
certificate-transparency test vectors and on every size pair up to 40; altered proofs fail."""

from __future__ import annotations

import hashlib

import pytest

from courtyard.domains.audit.leaves import leaf_hash, node_hash
from courtyard.domains.audit.merkle import (
    EMPTY_ROOT,
    Frontier,
    TreeCache,
    consistency_proof,
    inclusion_proof,
    tree_hash,
    verify_consistency,
    verify_inclusion,
)

# The eight leaves of the certificate-transparency test suite, and the roots of their prefixes.
CT_INPUTS = [
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]  # fmt: skip
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = {
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}
CT_CONSISTENCY = {
    (1, 1): [],
    (1, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (6, 8): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 5): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
}
CT_LEAVES = [leaf_hash(bytes.fromhex(data)) for data in CT_INPUTS]
MAX_SIZE = 40
LEAVES = [leaf_hash(f"entry {i}".encode()) for i in range(MAX_SIZE)]


def hexes(hashes: list[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


def flip(digest: bytes) -> bytes:
    return bytes([digest[0] ^ 1]) + digest[1:]


def test_the_empty_tree_hashes_to_the_sha256_of_nothing() -> None:
    assert tree_hash([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert Frontier().root() == EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_the_certificate_transparency_vectors(size: int) -> None:
    assert tree_hash(CT_LEAVES[:size]).hex() == CT_ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size"), list(CT_INCLUSION))
def test_inclusion_proofs_match_the_vectors_and_verify(index: int, size: int) -> None:
    path = inclusion_proof(index, CT_LEAVES[:size])
    assert hexes(path) == CT_INCLUSION[(index, size)]
    root = bytes.fromhex(CT_ROOTS[size - 1])
    assert verify_inclusion(index, size, CT_LEAVES[index], path, root)


@pytest.mark.parametrize(("first", "second"), list(CT_CONSISTENCY))
def test_consistency_proofs_match_the_vectors_and_verify(first: int, second: int) -> None:
    proof = consistency_proof(first, CT_LEAVES[:second])
    assert hexes(proof) == CT_CONSISTENCY[(first, second)]
    old, new = (bytes.fromhex(CT_ROOTS[n - 1]) for n in (first, second))
    assert verify_consistency(first, second, old, new, proof)


def test_the_frontier_gives_the_root_of_every_prefix() -> None:
    frontier = Frontier()
    for size in range(1, MAX_SIZE + 1):
        frontier.append(LEAVES[size - 1])
        assert frontier.size == size
        assert frontier.root() == tree_hash(LEAVES[:size]), size


def test_every_inclusion_proof_up_to_40_leaves_verifies_and_only_for_its_leaf() -> None:
    for size in range(1, MAX_SIZE + 1):
        root = tree_hash(LEAVES[:size])
        for index in range(size):
            path = inclusion_proof(index, LEAVES[:size])
            assert verify_inclusion(index, size, LEAVES[index], path, root), (index, size)
            other = LEAVES[(index + 1) % MAX_SIZE]
            assert not verify_inclusion(index, size, other, path, root)
            if size > 1:
                assert not verify_inclusion((index + 1) % size, size, LEAVES[index], path, root)


def test_every_consistency_proof_up_to_40_leaves_verifies_and_only_for_its_roots() -> None:
    roots = [tree_hash(LEAVES[:n]) for n in range(MAX_SIZE + 1)]
    for second in range(1, MAX_SIZE + 1):
        for first in range(1, second + 1):
            proof = consistency_proof(first, LEAVES[:second])
            assert verify_consistency(first, second, roots[first], roots[second], proof)
            if first < second:
                old, new = roots[first], roots[second]
                assert not verify_consistency(first, second, flip(old), new, proof)
                assert not verify_consistency(first, second, old, flip(new), proof)
                assert not verify_consistency(first + 1, second, old, new, proof)


@pytest.mark.parametrize(("index", "size"), [(0, 1), (3, 7), (12, 13), (31, 40)])
def test_altered_inclusion_proofs_fail(index: int, size: int) -> None:
    root = tree_hash(LEAVES[:size])
    path = inclusion_proof(index, LEAVES[:size])
    assert not verify_inclusion(index, size, LEAVES[index], path, flip(root))
    assert not verify_inclusion(index, size, LEAVES[index], [*path, LEAVES[0]], root)
    if path:
        assert not verify_inclusion(index, size, LEAVES[index], path[:-1], root)
        for i in range(len(path)):
            altered = [*path[:i], flip(path[i]), *path[i + 1 :]]
            assert not verify_inclusion(index, size, LEAVES[index], altered, root)
    assert not verify_inclusion(size, size, LEAVES[index], path, root)  # index past the end


@pytest.mark.parametrize(("first", "second"), [(1, 2), (3, 7), (4, 8), (6, 8), (17, 40)])
def test_altered_consistency_proofs_fail(first: int, second: int) -> None:
    old, new = tree_hash(LEAVES[:first]), tree_hash(LEAVES[:second])
    proof = consistency_proof(first, LEAVES[:second])
    assert not verify_consistency(first, second, old, new, [])
    assert not verify_consistency(first, second, old, new, proof[:-1])
    assert not verify_consistency(first, second, old, new, [*proof, new])
    for i in range(len(proof)):
        altered = [*proof[:i], flip(proof[i]), *proof[i + 1 :]]
        assert not verify_consistency(first, second, old, new, altered)
    assert not verify_consistency(second, first, new, old, proof)  # sizes the wrong way round


def test_a_log_that_changed_an_old_leaf_cannot_prove_itself_consistent() -> None:
    # A server that rewrote entry 2 and grew the log to 9 has a true 9-leaf root, but no proof
    # from the old 5-leaf root can reach it.
    rewritten = [*LEAVES[:2], leaf_hash(b"rewritten"), *LEAVES[3:9]]
    proof = consistency_proof(5, rewritten)
    assert not verify_consistency(5, 9, tree_hash(LEAVES[:5]), tree_hash(rewritten), proof)


def test_consistency_with_the_empty_tree_and_with_itself() -> None:
    root = tree_hash(LEAVES[:5])
    assert consistency_proof(0, LEAVES[:5]) == [] == consistency_proof(5, LEAVES[:5])
    assert verify_consistency(0, 5, EMPTY_ROOT, root, [])
    assert verify_consistency(5, 5, root, root, [])
    assert not verify_consistency(5, 5, root, flip(root), [])


def test_node_hashes_are_domain_separated_from_leaf_hashes() -> None:
    # A two-leaf root is not the leaf hash of the two leaves' concatenation.
    a, b = LEAVES[0], LEAVES[1]
    assert tree_hash([a, b]) == node_hash(a, b) != leaf_hash(a + b)


def test_the_tree_cache_answers_as_the_plain_functions_with_its_memo_warm() -> None:
    leaves = [leaf_hash(f"cached {i}".encode()) for i in range(300)]
    cache = TreeCache()
    cache.MEMO_MIN = 4  # remember small subtrees too, so the memo is exercised on every path
    for size in (1, 5, 64, 100, 257, 300):
        cache.leaves.extend(leaves[len(cache) : size])
        assert cache.root(size) == tree_hash(leaves[:size])
        for first in (1, size // 3 or 1, size):
            assert cache.consistency_proof(first, size) == consistency_proof(first, leaves[:size])
        for index in (0, size // 2, size - 1):
            assert cache.inclusion_proof(index, size) == inclusion_proof(index, leaves[:size])
    assert cache.root(64) == tree_hash(leaves[:64])  # an older size, after growing
    with pytest.raises(ValueError, match="size out of range"):
        cache.root(301)
