"""RFC 9162 §2.1 Merkle hashing of the audit log (R-ACC-1; domain/merkle.py): the Certificate
Transparency reference test vectors (RFC 6962's, as published with the CT reference code), and every
proof of every tree up to 33 leaves checked both ways (right proofs verify, altered ones do not)."""

from __future__ import annotations

import hashlib

import pytest

from ecert.domain import merkle

# The reference leaves and the root of the tree of the first n of them, n = 0 … 8.
DATA = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
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
LEAVES = [merkle.leaf_hash(bytes.fromhex(d)) for d in DATA]
INCLUSION = {  # (index, size) -> the reference audit path
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
CONSISTENCY = {  # (old size, new size) -> the reference proof
    (2, 8): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (2, 5): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
}


def test_roots_match_the_reference_vectors__R_ACC_1() -> None:
    for n, want in enumerate(ROOTS):
        assert merkle.root(LEAVES[:n]).hex() == want, n
        f = merkle.Frontier()
        for h in LEAVES[:n]:
            f.append(h)
        assert f.root().hex() == want and f.size == n
    assert merkle.node_hash(LEAVES[0], LEAVES[1]).hex() == ROOTS[2]
    assert merkle.leaf_hash(b"") == hashlib.sha256(b"\x00").digest()


def test_proofs_match_the_reference_vectors__R_ACC_1() -> None:
    for (index, size), path in INCLUSION.items():
        assert [h.hex() for h in merkle.inclusion_proof(index, LEAVES[:size])] == path
    for (m, n), path in CONSISTENCY.items():
        assert [h.hex() for h in merkle.consistency_proof(m, LEAVES[:n])] == path


def _flip(h: bytes) -> bytes:
    return bytes([h[0] ^ 1]) + h[1:]


def test_every_proof_of_every_small_tree_verifies_and_altered_ones_do_not__R_ACC_1() -> None:
    leaves = [merkle.leaf_hash(bytes([i, 7])) for i in range(33)]
    roots = [merkle.root(leaves[:n]) for n in range(len(leaves) + 1)]
    for n in range(1, len(leaves) + 1):
        for i in range(n):
            proof = merkle.inclusion_proof(i, leaves[:n])
            assert merkle.verify_inclusion(i, n, leaves[i], proof, roots[n])
            assert not merkle.verify_inclusion(i, n, _flip(leaves[i]), proof, roots[n])
            if n > 1:
                assert not merkle.verify_inclusion((i + 1) % n, n, leaves[i], proof, roots[n])
                assert not merkle.verify_inclusion(i, n, leaves[i], [*proof[:-1], _flip(proof[-1])], roots[n])
        for m in range(n + 1):
            proof = merkle.consistency_proof(m, leaves[:n])
            assert merkle.verify_consistency(m, n, roots[m], roots[n], proof), (m, n)
            if 0 < m < n:
                assert not merkle.verify_consistency(m, n, _flip(roots[m]), roots[n], proof)
                assert not merkle.verify_consistency(m, n, roots[m], _flip(roots[n]), proof)
                assert not merkle.verify_consistency(m, n, roots[m], roots[n], [*proof[:-1], _flip(proof[-1])])
                # a reordered old tree (two leaves swapped) is not a prefix
                swapped = [leaves[1], leaves[0], *leaves[2:m]] if m >= 2 else None
                if swapped is not None:
                    assert not merkle.verify_consistency(m, n, merkle.root(swapped), roots[n], proof)


def test_a_frontier_resumes_from_its_hashes__R_ACC_1() -> None:
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(20)]
    f = merkle.Frontier()
    for h in leaves[:13]:
        f.append(h)
    resumed = merkle.Frontier(f.size, f.hashes)
    for h in leaves[13:]:
        resumed.append(h)
    assert resumed.root() == merkle.root(leaves)
    with pytest.raises(ValueError):
        merkle.Frontier(13, f.hashes[:1])
