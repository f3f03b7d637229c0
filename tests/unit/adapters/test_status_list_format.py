"""The signed status list's format (issue 14 item 2, adapters/status_list.py): exact answers for every
certificate it was built over, near-collisions of serials included; compact; signed as a standard
compact JWS (an independent implementation, jwcrypto, checks it); and refused — never misread — when
truncated, re-signed with an unknown key, tampered with or padded."""

from __future__ import annotations

import base64
import math
import os
import random
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwcrypto import jwk, jws

from ecert.adapters import status_list as sl
from ecert.adapters.qr_token import serial_from_bytes
from ecert.adapters.signing.jws import JwsSigner, public_jwk
from ecert.domain.status_list import CURRENT, REVOKED, SUPERSEDED

NOW = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
KEY = Ed25519PrivateKey.generate()
SIGNER = JwsSigner(KEY)
KEYS = {SIGNER.kid: KEY.public_key()}


def _registry(n: int, share: float, seed: int = 14) -> tuple[list[str], list[int]]:
    rnd = random.Random(seed)
    serials = [serial_from_bytes(rnd.randbytes(10)) for _ in range(n)]
    flags = [rnd.choice((SUPERSEDED, REVOKED)) if rnd.random() < share else CURRENT for _ in range(n)]
    return serials, flags


def _payload(serials: list[str], flags: list[int]) -> bytes:
    return sl.encode(sl.listed_with_neighbours(serials, flags), len(serials))


def _signed(serials: list[str], flags: list[int], signer: JwsSigner = SIGNER) -> str:
    payload = _payload(serials, flags)
    return signer.sign_bytes(payload, sl.header(signer.kid, NOW, NOW + timedelta(days=1)))


def test_every_certificate_gets_its_exact_status_back_from_the_signed_list() -> None:
    serials, flags = _registry(5000, 0.05)
    listed = sl.verify(_signed(serials, flags), KEYS)
    assert [listed.status_of(s) for s in serials] == flags
    assert listed.count == sum(1 for f in flags if f) and listed.covered == 5000
    assert listed.prefix_bits == sl.MIN_PREFIX_BITS  # random serials: the shortest prefix suffices
    assert (listed.issued_at, listed.next_update, listed.kid) == (NOW, NOW + timedelta(days=1), SIGNER.kid)
    assert listed.status_of(serials[0].lower()) == flags[0]  # a scanner's lower case reads the same


def test_serials_sharing_a_long_prefix_are_told_apart() -> None:
    """A listed serial and a current one agreeing on 60 leading bits (12 characters): the prefix grows to
    65 bits (13 characters), and neither is mistaken for the other (a listed neighbour of a listed one,
    agreeing on 79 bits, too: 80)."""
    base = os.urandom(10)
    near = bytearray(base)
    near[7] ^= 0x08  # bit 60 differs: the first 60 bits are shared
    third = bytearray(base)
    third[9] ^= 0x01  # only the last bit differs
    serials = [serial_from_bytes(base), serial_from_bytes(bytes(near)), serial_from_bytes(bytes(third))]
    flags = [REVOKED, CURRENT, SUPERSEDED]
    listed = sl.verify(_signed(serials, flags), KEYS)
    assert listed.prefix_bits == 80
    assert [listed.status_of(s) for s in serials] == flags
    two = sl.verify(_signed(serials[:2], flags[:2]), KEYS)
    assert two.prefix_bits == 65 and [two.status_of(s) for s in serials[:2]] == flags[:2]


def test_neighbours_in_text_order_suffice_though_text_order_is_not_the_bits_order() -> None:
    """Base32 digits (2–7, values 26–31) sort before the letters as text: serials sharing 9 characters and
    differing in the 10th in every way are still told apart exactly."""
    head = serial_from_bytes(os.urandom(10))[:9]
    serials = [head + c + "AAAAAA" for c in "A2ZB7Q3"]
    for flag_of_first in (SUPERSEDED, REVOKED):
        for k in range(len(serials)):
            flags = [CURRENT] * len(serials)
            flags[k] = flag_of_first
            listed = sl.verify(_signed(serials, flags), KEYS)
            assert [listed.status_of(s) for s in serials] == flags


def test_an_empty_list_and_a_list_of_everything_read_back() -> None:
    serials, _ = _registry(300, 0)
    assert sl.verify(_signed(serials, [CURRENT] * 300), KEYS).count == 0
    everything = sl.verify(_signed(serials, [REVOKED] * 300), KEYS)
    assert {everything.status_of(s) for s in serials} == {REVOKED}


def test_the_list_is_compact_near_the_entropy_of_the_listed_prefixes() -> None:
    """The benchmark measures a million (bench/status_list.py); here 40,000 with 5 % listed. n prefixes
    of b bits hold about b - log2(n) + 1.44 bits each (a random set's entropy); the Rice code adds
    under a bit, the status bit one."""
    serials, flags = _registry(40_000, 0.05)
    payload = _payload(serials, flags)
    listed = sum(1 for f in flags if f)
    assert len(payload) * 8 / listed < sl.MIN_PREFIX_BITS - math.log2(listed) + 1.44 + 2
    plain = len(",".join(s for s, f in zip(serials, flags, strict=True) if f))
    assert len(payload) < plain / 4


def test_jwcrypto_verifies_the_list_with_the_published_jwk() -> None:
    text = _signed(*_registry(200, 0.1))
    token = jws.JWS()
    token.deserialize(text)
    token.verify(jwk.JWK(**public_jwk(KEY.public_key())), alg="EdDSA")
    assert token.jose_header["kid"] == SIGNER.kid and token.jose_header["typ"] == sl.TYP
    assert token.payload[:4] == sl.MAGIC


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@pytest.mark.parametrize(
    "cut",
    [
        lambda t: t[: len(t) // 2],  # cut in the payload: no signature left
        lambda t: t[:-10],  # cut in the signature
        lambda t: t.rsplit(".", 1)[0],  # the signature dropped
        lambda t: "",
        lambda t: "not a list at all",
    ],
)
def test_a_truncated_list_is_refused_as_malformed(cut: object) -> None:
    text = _signed(*_registry(500, 0.1))
    with pytest.raises(sl.StatusListError) as err:
        sl.verify(cut(text), KEYS)  # type: ignore[operator]
    assert err.value.code == "status_list_malformed"


def test_a_list_resigned_with_an_unknown_key_is_refused() -> None:
    intruder = JwsSigner(Ed25519PrivateKey.generate())
    with pytest.raises(sl.StatusListError) as err:
        sl.verify(_signed(*_registry(500, 0.1), signer=intruder), KEYS)
    assert err.value.code == "status_list_unknown_key"


def test_a_changed_payload_or_date_under_the_real_kid_fails_the_signature() -> None:
    text = _signed(*_registry(500, 0.1))
    head, payload, sig = text.split(".")
    raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raw[20] ^= 0x01  # a status bit flipped: revoked ↔ superseded
    later = base64.urlsafe_b64decode(head + "==").replace(b"2026-12-07", b"2027-12-07")
    for forged in (f"{head}.{_b64(bytes(raw))}.{sig}", f"{_b64(later)}.{payload}.{sig}"):
        with pytest.raises(sl.StatusListError) as err:
            sl.verify(forged, KEYS)
        assert err.value.code == "status_list_bad_signature"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda p: p + b"\xff",  # bytes after the last entry
        lambda p: p[:-3],  # entries missing (signed so: the signature holds, the layout does not)
        lambda p: b"XXXX" + p[4:],  # not our magic
        lambda p: p[:5] + bytes([30]) + p[6:],  # prefix_bits below the minimum
    ],
)
def test_a_signed_payload_that_is_not_one_whole_list_is_refused(mangle: object) -> None:
    payload = _payload(*_registry(500, 0.1))
    text = SIGNER.sign_bytes(mangle(payload), sl.header(SIGNER.kid, NOW, NOW + timedelta(days=1)))  # type: ignore[operator]
    with pytest.raises(sl.StatusListError) as err:
        sl.verify(text, KEYS)
    assert err.value.code == "status_list_malformed"


@pytest.mark.parametrize("bad", ["A" * 15, "A" * 15 + "1", "A" * 15 + "8", "A" * 15 + "=", "A" * 15 + "é", "A" * 17])
def test_a_serial_that_is_not_16_base32_characters_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        sl.serial_int(bad)
