"""The audit log's checkpoints as C2SP ``tlog-checkpoint`` text in a C2SP ``signed-note`` (R-ACC-1).

A checkpoint (https://c2sp.org/tlog-checkpoint)::

    <origin>\\n<tree size, decimal>\\n<root hash, base64>\\ntime <UTC, RFC 3339>\\n

(the ``time`` line is an extension line, which the format allows after the first three), then a
blank line and one signature line per signer (https://c2sp.org/signed-note)::

    — <key name> <base64(key hash (4 bytes) || Ed25519 signature of the text above)>\\n

The key hash is the first four bytes of SHA-256(key name || "\\n" || 0x01 || public key), and the
verifier key, published beside the checkpoint, is ``<name>+<key hash, hex>+<base64(0x01 || public key)>``
— what Go's ``golang.org/x/mod/sumdb/note`` and the other signed-note clients read.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG_ED25519 = 0x01
DASH = "\u2014 "
TIME_PREFIX = "time "


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_hash(name: str, public_key: Ed25519PublicKey) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + _raw(public_key)).digest()[:4]


def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """The signed-note verifier key: ``name+hash+base64(0x01 || key)``."""
    encoded = base64.b64encode(bytes([ALG_ED25519]) + _raw(public_key)).decode()
    return f"{name}+{key_hash(name, public_key).hex()}+{encoded}"


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    time: datetime

    def body(self) -> str:
        stamp = self.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n{TIME_PREFIX}{stamp}\n"


class NoteError(ValueError):
    """A checkpoint that does not parse or whose signature does not verify (``reason`` says which)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def sign(checkpoint: Checkpoint, name: str, key: Ed25519PrivateKey) -> str:
    """The signed note: the checkpoint's text, a blank line, one signature line."""
    text = checkpoint.body()
    sig = key.sign(text.encode())
    return f"{text}\n{DASH}{name} {base64.b64encode(key_hash(name, key.public_key()) + sig).decode()}\n"


def parse(note: str) -> tuple[Checkpoint, list[tuple[str, bytes, bytes]], str]:
    """(the checkpoint, its signature lines as (key name, key hash, signature), the signed text).
    Raises NoteError for text that is not a signed checkpoint."""
    text, sep, sigs = note.partition("\n\n")
    if not sep or not sigs.endswith("\n"):
        raise NoteError("not a signed note")
    text += "\n"
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("a checkpoint has an origin, a size and a root hash")
    origin, size_s, root_s = lines[0], lines[1], lines[2]
    if not origin or not size_s.isdigit() or (size_s != "0" and size_s.startswith("0")):
        raise NoteError("bad origin or tree size")
    try:
        root = base64.b64decode(root_s, validate=True)
    except binascii.Error as exc:
        raise NoteError("the root hash is not base64") from exc
    if len(root) != 32:
        raise NoteError("the root hash is not 32 bytes")
    when: datetime | None = None
    for extra in lines[3:]:
        if extra.startswith(TIME_PREFIX):
            try:
                when = datetime.strptime(extra[len(TIME_PREFIX) :], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            except ValueError as exc:
                raise NoteError("bad time line") from exc
    if when is None:
        raise NoteError("no time line")
    signatures: list[tuple[str, bytes, bytes]] = []
    for line in sigs[:-1].split("\n"):
        if not line.startswith(DASH):
            raise NoteError("bad signature line")
        name, _, b64 = line[len(DASH) :].rpartition(" ")
        try:
            raw = base64.b64decode(b64, validate=True)
        except binascii.Error as exc:
            raise NoteError("bad signature encoding") from exc
        if not name or len(raw) < 5:
            raise NoteError("bad signature line")
        signatures.append((name, raw[:4], raw[4:]))
    return Checkpoint(origin, int(size_s), root, when), signatures, text


def verify(note: str, name: str, public_key: Ed25519PublicKey) -> Checkpoint:
    """The checkpoint of ``note`` if it carries a valid signature by (``name``, ``public_key``)."""
    checkpoint, signatures, text = parse(note)
    want = key_hash(name, public_key)
    for sig_name, khash, sig in signatures:
        if sig_name == name and khash == want:
            try:
                public_key.verify(sig, text.encode())
            except InvalidSignature as exc:
                raise NoteError("the signature does not verify") from exc
            return checkpoint
    raise NoteError("no signature by the audit key")
