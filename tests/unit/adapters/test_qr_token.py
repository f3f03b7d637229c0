"""The QR token (R-DOC-4): signed, compact, bounded; any change is detected; never crashes."""

from __future__ import annotations

import base64
import hashlib
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecert.adapters import qr_token as q

KEY = q.generate_key()
KEYS = {q.kid_of(KEY.public_key()): KEY.public_key()}
SERIAL = "7QSAAOPZX7VQLPBD"
DIGEST = hashlib.sha256(b"content").digest()


def make(reg: str = "晋1142024202501467", frm: date = date(2021, 3, 1), until: date = date(2021, 8, 28)) -> str:
    return q.encode(SERIAL, reg, frm, until, DIGEST, KEY)


def test_round_trip_binds_serial_registration_window_and_digest__R_DOC_4() -> None:
    claims = q.decode(make(), KEYS)
    assert claims.serial == SERIAL
    assert claims.registration_no == "晋1142024202501467"
    assert (claims.usage_from, claims.usage_until) == (date(2021, 3, 1), date(2021, 8, 28))
    assert claims.digest16 == DIGEST[:16]


@pytest.mark.parametrize("reg", ["京111050700001", "黔1520102010000001", "浙1332021202100007", "琼1460000000000000"])
def test_registration_numbers_round_trip_exactly__R_DOC_4(reg: str) -> None:
    assert q.decode(make(reg), KEYS).registration_no == reg


def test_url_is_uppercase_alphanumeric_and_short__R_DOC_4() -> None:
    url = q.token_url("https://ecert.example.cn", make())
    assert url == url.upper()
    allowed = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    assert set(url) <= allowed  # QR alphanumeric mode
    assert len(url) < 300


def test_scanner_text_in_any_case_or_bare_token_is_accepted__R_DOC_4() -> None:
    t = make()
    url = q.token_url("https://ecert.example.cn", t)
    for text in (url, url.lower(), t, t.lower(), f"  {url}/  ", url + "?utm=x"):
        assert q.decode(text, KEYS).serial == SERIAL


def test_every_changed_character_is_detected__R_DOC_4() -> None:
    t = make()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    for i in range(len(t)):
        other = alphabet[(alphabet.index(t[i]) + 1) % 32]
        forged = t[:i] + other + t[i + 1 :]
        with pytest.raises(q.TokenError):
            q.decode(forged, KEYS)


def test_truncated_and_extended_tokens_are_malformed__R_DOC_4() -> None:
    t = make()
    for cut in (1, 8, 20, len(t) // 2, len(t) - 3):
        with pytest.raises(q.TokenError):
            q.decode(t[:cut], KEYS)
    with pytest.raises(q.TokenError):
        q.decode(t + "AAAAAAAA", KEYS)


def test_a_token_signed_by_another_key_is_unknown_key__R_DOC_4() -> None:
    other = q.generate_key()
    forged = q.encode(SERIAL, "晋1142024202501467", date(2021, 3, 1), date(2021, 8, 28), DIGEST, other)
    with pytest.raises(q.TokenError) as info:
        q.decode(forged, KEYS)
    assert info.value.code == "unknown_key"


def test_a_forged_body_under_our_kid_is_bad_signature__R_DOC_4() -> None:
    raw = base64.b32decode(make() + "=" * (-len(make()) % 8))
    body, sig = raw[:-64], raw[-64:]
    changed = body[:-1] + bytes([body[-1] ^ 1]) + sig  # last digest byte flipped, kid kept
    forged = base64.b32encode(changed).decode().rstrip("=")
    with pytest.raises(q.TokenError) as info:
        q.decode(forged, KEYS)
    assert info.value.code == "bad_signature"


def test_oversized_text_is_refused_before_decoding__R_DOC_4() -> None:
    with pytest.raises(q.TokenError) as info:
        q.decode("A" * 10_000, KEYS)
    assert info.value.code == "malformed"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_arbitrary_scanner_text_never_raises_anything_but_token_error__R_DOC_4(text: str) -> None:
    with pytest.raises(q.TokenError):  # nothing unsigned ever decodes
        q.decode(text, KEYS)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=0, max_size=200))
def test_arbitrary_bytes_as_base32_never_crash__R_DOC_4(raw: bytes) -> None:
    text = base64.b32encode(raw).decode().rstrip("=")
    with pytest.raises(q.TokenError):  # nothing unsigned ever decodes
        q.decode(text, KEYS)
