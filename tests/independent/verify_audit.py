"""An audit-log verifier written apart from ecert's code (issue 16 item 1, R-ACC-1): only the standard
library and ``cryptography``, from the texts of RFC 6962/9162 (Merkle tree hash, audit paths,
consistency proofs — checked here by the recursive definitions, not the RFC's iterative algorithms
that ecert uses) and C2SP signed-note / tlog-checkpoint.

Input (JSON on stdin)::

    {"vkey": "<name>+<hash>+<base64>", "note": "<signed checkpoint>", "old_note": "<an earlier one>",
     "events": [{"at", "actor", "action", "subject", "payload"}, ...]   # in leaf order, payload = JSON text
     "inclusion": [{"index", "size", "proof": [hex]}, ...],             # for events[index]
     "consistency": {"first", "second", "proof": [hex]}}

Prints ``{"ok": bool, "errors": [...]}``; exit 0 when every check holds, 1 otherwise.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf(body: bytes) -> bytes:
    return sha(b"\x00" + body)


def node(a: bytes, b: bytes) -> bytes:
    return sha(b"\x01" + a + b)


def split_point(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return sha(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = split_point(len(leaves))
    return node(mth(leaves[:k]), mth(leaves[k:]))


def root_from_path(index: int, size: int, h: bytes, path: list[bytes]) -> bytes:
    """The root PATH(index, D[size]) leads to (its last element is the top-level sibling)."""
    if size == 1:
        if path:
            raise ValueError("path too long")
        return h
    if not path:
        raise ValueError("path too short")
    k = split_point(size)
    *rest, sibling = path
    if index < k:
        return node(root_from_path(index, k, h, rest), sibling)
    return node(sibling, root_from_path(index - k, size - k, h, rest))


def roots_from_consistency(
    m: int, n: int, proof: list[bytes], old_root: bytes, whole: bool = True
) -> tuple[bytes, bytes]:
    """(old root, new root) that SUBPROOF(m, D[n], whole) proves, given the old tree's root."""
    if m == n:
        if whole:
            if proof:
                raise ValueError("proof too long")
            return old_root, old_root
        if len(proof) != 1:
            raise ValueError("bad proof length")
        return proof[0], proof[0]
    if not proof:
        raise ValueError("proof too short")
    k = split_point(n)
    *rest, last = proof
    if m <= k:
        old, new = roots_from_consistency(m, k, rest, old_root, whole)
        return old, node(new, last)
    old, new = roots_from_consistency(m - k, n - k, rest, old_root, False)
    return node(last, old), node(last, new)


def canonical(event: dict) -> bytes:
    at = datetime.fromisoformat(event["at"]).astimezone(UTC).isoformat()
    doc = {"at": at, "actor": event["actor"], "action": event["action"], "subject": event["subject"],
           "payload": json.loads(event["payload"])}  # fmt: skip
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def open_note(note: str, vkey: str) -> tuple[str, int, bytes]:
    name, key_hash_hex, key_b64 = vkey.split("+", 2)
    raw = base64.b64decode(key_b64)
    if raw[0] != 1 or len(raw) != 33:
        raise ValueError("not an Ed25519 verifier key")
    key_hash = sha(name.encode() + b"\n" + raw)[:4]
    if key_hash.hex() != key_hash_hex:
        raise ValueError("verifier key hash does not match")
    text, blank, signatures = note.partition("\n\n")
    if not blank:
        raise ValueError("no signature block")
    text += "\n"
    ok = False
    for line in signatures.splitlines():
        if not line.startswith("\u2014 "):
            raise ValueError("bad signature line")
        signer, _, sig_b64 = line[2:].rpartition(" ")
        sig = base64.b64decode(sig_b64)
        if signer == name and sig[:4] == key_hash:
            try:
                Ed25519PublicKey.from_public_bytes(raw[1:]).verify(sig[4:], text.encode())
                ok = True
            except InvalidSignature:
                raise ValueError("bad signature") from None
    if not ok:
        raise ValueError("not signed by the verifier key")
    origin, size, root_b64 = text.split("\n")[:3]
    if origin != name:
        raise ValueError("origin differs from the key name")
    return origin, int(size), base64.b64decode(root_b64)


def main() -> int:
    given = json.load(sys.stdin)
    errors: list[str] = []
    try:
        _, size, root = open_note(given["note"], given["vkey"])
        _, old_size, old_root = open_note(given["old_note"], given["vkey"])
    except (ValueError, KeyError) as exc:
        print(json.dumps({"ok": False, "errors": [f"checkpoint: {exc}"]}))
        return 1
    leaves = [leaf(canonical(e)) for e in given["events"]]
    if len(leaves) != size or mth(leaves) != root:
        errors.append("the events do not make the checkpoint's tree")
    if mth(leaves[:old_size]) != old_root:
        errors.append("the events do not make the old checkpoint's tree")
    for p in given["inclusion"]:
        try:
            got = root_from_path(p["index"], p["size"], leaves[p["index"]], [bytes.fromhex(h) for h in p["proof"]])
        except ValueError as exc:
            got, errors = b"", [*errors, f"inclusion {p['index']}: {exc}"]
        if p["size"] != size or got != root:
            errors.append(f"inclusion proof of leaf {p['index']} does not lead to the root")
    c = given["consistency"]
    try:
        old, new = roots_from_consistency(c["first"], c["second"], [bytes.fromhex(h) for h in c["proof"]], old_root)
        if (c["first"], c["second"], old, new) != (old_size, size, old_root, root):
            errors.append("the consistency proof does not join the two checkpoints")
    except ValueError as exc:
        errors.append(f"consistency: {exc}")
    print(json.dumps({"ok": not errors, "errors": errors}))
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
