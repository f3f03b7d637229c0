"""The audit log's checkpoints as C2SP signed notes (R-ACC-1; adapters/signed_note.py)."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ecert.adapters import signed_note

NAME = "ecert.example.cn/audit"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
CP = signed_note.Checkpoint(NAME, 42, hashlib.sha256(b"root").digest(), datetime(2026, 12, 6, 3, 0, tzinfo=UTC))


def test_a_checkpoint_is_c2sp_text_and_its_signature_verifies__R_ACC_1() -> None:
    note = signed_note.sign(CP, NAME, KEY)
    text, sig_line = note.split("\n\n")
    assert text.split("\n") == [NAME, "42", base64.b64encode(CP.root).decode(), "time 2026-12-06T03:00:00Z"]
    assert sig_line.startswith(f"\u2014 {NAME} ") and sig_line.endswith("\n")
    raw = base64.b64decode(sig_line.rsplit(" ", 1)[1])
    assert raw[:4] == signed_note.key_hash(NAME, KEY.public_key()) and len(raw) == 68
    assert signed_note.verify(note, NAME, KEY.public_key()) == CP
    vkey = signed_note.verifier_key(NAME, KEY.public_key())
    name, khash, b64 = vkey.split("+", 2)
    assert (name, bytes.fromhex(khash)) == (NAME, raw[:4]) and base64.b64decode(b64)[0] == 1


@pytest.mark.parametrize(
    "edit",
    [
        lambda n: n.replace("\n42\n", "\n41\n"),
        lambda n: n.replace("time 2026", "time 2025"),
        lambda n: n.replace(NAME, "other.example/audit", 1),
    ],
)
def test_an_edited_checkpoint_or_another_key_is_refused__R_ACC_1(edit: object) -> None:
    note = signed_note.sign(CP, NAME, KEY)
    with pytest.raises(signed_note.NoteError):
        signed_note.verify(edit(note), NAME, KEY.public_key())  # type: ignore[operator]
    with pytest.raises(signed_note.NoteError):
        signed_note.verify(note, NAME, Ed25519PrivateKey.generate().public_key())
    with pytest.raises(signed_note.NoteError):
        signed_note.verify("not a note", NAME, KEY.public_key())
