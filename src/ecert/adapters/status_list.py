"""The signed status list (issue 14 item 2): every certificate that is superseded or revoked, by serial,
compact enough to carry in an offline kit and to cache in a phone, signed like the attestations.

Why not a bitstring: the W3C Bitstring Status List needs a per-certificate index printed in the
credential, and the QR token (adapters/qr_token.py) carries none — only the 80-bit random serial. A
list of whole serials does not fit either: 50,000 random 10-byte serials are 500 KB, and random bytes
do not compress. So the list holds **serial prefixes**: the first ``prefix_bits`` bits of each listed
serial (at least :data:`MIN_PREFIX_BITS`), with ``prefix_bits`` chosen when the list is built so that
no prefix of a listed serial is the prefix of any other certificate issued by then (nor of another
listed one): for every certificate issued before ``issued_at`` the answer is exact. A certificate
issued after the list was built is not in it in any case (it is checked against the next list); the
chance that its random serial shares a listed prefix is ``count / 2**prefix_bits`` (50,000 listed at
40 bits: 4.5e-8), and that error could only say "superseded/revoked", never "valid".

The sorted prefixes are gap-coded with a Golomb–Rice code (parameter ``rice_k``: a gap is ``q`` one
bits, a zero bit, then its ``k`` low bits), which is within a few percent of the entropy of a random
set: about 26 bits a listed certificate at a million certificates. Beside them, one status bit each
(1 revoked, 0 superseded) in the same order.

Payload (binary, big-endian, bits most significant first)::

    4  magic b"ECSL"
    1  format version (1)
    1  prefix_bits (40..80)
    1  rice_k (0..79)
    1  reserved (0)
    4  count: certificates listed
    4  covered: certificates issued when the list was built
    ceil(count / 8)  status bits, in prefix order: 1 revoked, 0 superseded
    ...  the Rice codes of the gaps p[i] - p[i-1] - 1 (p[-1] = -1), zero-padded to a byte

Signed as a compact JWS (RFC 7515, EdDSA/Ed25519 under the QR key: adapters/signing/jws.py) whose payload
is those bytes and whose protected header carries ``kid``, ``typ`` (:data:`TYP`), ``issued_at`` and
``next_update`` (RFC 3339 UTC): the header is covered by the signature, so the dates cannot be moved.
The page (static/offline/) and :func:`verify` read the same bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ecert.adapters.qr_token import SERIAL_BYTES
from ecert.domain.status_list import CURRENT, REVOKED, SUPERSEDED

MAGIC = b"ECSL"
VERSION = 1
TYP = "ecert-status-list+jws"
SERIAL_BITS = SERIAL_BYTES * 8
MIN_PREFIX_BITS = 40
HEADER = struct.Struct(">4sBBBBII")
MAX_JWS = 16 * 1024 * 1024  # a list for tens of millions of certificates; a bigger text is not ours


class StatusListError(Exception):
    """Why a status list is refused. ``code`` (the verdict's reason code): ``status_list_malformed``
    (truncated, not a JWS, not our layout), ``status_list_unknown_key`` (signed with a key not in the
    JWKS), ``status_list_bad_signature`` (the signature does not verify)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class StatusList:
    """A verified list: who signed it, when, until when it is current, and the listed prefixes."""

    kid: str
    issued_at: datetime
    next_update: datetime
    prefix_bits: int
    covered: int
    prefixes: tuple[int, ...]  # ascending
    revoked_bits: bytes  # one bit a prefix, MSB first: 1 revoked, 0 superseded

    @property
    def count(self) -> int:
        return len(self.prefixes)

    def status_of(self, serial: str) -> int:
        """:data:`CURRENT`, :data:`SUPERSEDED` or :data:`REVOKED` for a serial (16 Base32 characters)."""
        from bisect import bisect_left

        p = serial_int(serial) >> (SERIAL_BITS - self.prefix_bits)
        i = bisect_left(self.prefixes, p)
        if i == len(self.prefixes) or self.prefixes[i] != p:
            return CURRENT
        return REVOKED if self.revoked_bits[i >> 3] >> (7 - (i & 7)) & 1 else SUPERSEDED

    def is_stale(self, now: datetime) -> bool:
        return now >= self.next_update


# RFC 4648 Base32 digits (A–Z, 2–7 = 0–31) as the digits int(…, 32) reads (0–9, a–v): a serial's 16
# characters are its 80 bits, read in C (base64.b32decode is a Python loop, 2 s for a million).
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_DIGITS = "0123456789abcdefghijklmnopqrstuv"
# 0, 1, 8 and 9 are not Base32: made "z", which int(…, 32) refuses.
_B32_AS_DIGITS = str.maketrans(_B32 + _B32[:26].lower() + "0189", _DIGITS + _DIGITS[:26] + "zzzz")


def serial_int(serial: str) -> int:
    """A serial (16 Base32 characters, any case) as its 80-bit integer; ValueError if it is not one."""
    if len(serial) != SERIAL_BYTES * 8 // 5 or not serial.isascii() or not serial.isalnum():
        raise ValueError("a serial is 16 Base32 characters")
    return int(serial.translate(_B32_AS_DIGITS), 32)


Listed = tuple[str, int, str | None, str | None]  # (serial, flag, previous serial, next serial)


def _common_chars(a: str, b: str | None) -> int:
    if b is None:
        return 0
    n = 0
    for x, y in zip(a, b.upper(), strict=False):
        if x != y:
            break
        n += 1
    return n


def listed_with_neighbours(serials: list[str], flags: list[int]) -> list[Listed]:
    """Each listed certificate with the serials before and after it in text order, from every issued
    certificate's serial and flag: what adapters/db/status_lists.py reads in one statement on PostgreSQL
    and works out here on SQLite (whose sorted read of a million rows is several times slower than a
    plain read and this). Sorted as strings with the flag appended: one C sort."""
    keys = sorted([s.upper() + "012"[f] for s, f in zip(serials, flags, strict=True)])
    last = len(keys) - 1
    return [
        (v[:16], int(v[16]), keys[i - 1][:16] if i > 0 else None, keys[i + 1][:16] if i < last else None)
        for i, v in enumerate(keys)
        if v[16] != "0"
    ]


def choose_prefix_bits(listed: list[Listed]) -> int:
    """The prefix length (≥ :data:`MIN_PREFIX_BITS`) that tells every listed serial apart from every other
    issued one. Sorted as text (in any order of the 32 characters), the serials sharing the most leading
    characters with a listed one are its neighbours; sharing ``c`` characters and not the next, they
    differ within the first ``5 * c + 5`` bits."""
    bits = MIN_PREFIX_BITS
    for serial, _, prev, nxt in listed:
        shared = max(_common_chars(serial.upper(), prev), _common_chars(serial.upper(), nxt))
        bits = max(bits, 5 * shared + 5)
    return min(bits, SERIAL_BITS)


def _rice_k(prefixes: list[int], space_bits: int) -> int:
    """The Rice parameter giving the fewest bits (tried around log2 of the mean gap)."""
    if not prefixes:
        return 0
    mean = (1 << space_bits) // (len(prefixes) + 1)
    guess = max(mean.bit_length() - 1, 0)
    gaps = [b - a - 1 for a, b in zip([-1, *prefixes], prefixes, strict=False)]

    def size(k: int) -> int:
        return sum(g >> k for g in gaps) + len(gaps) * (k + 1)

    return min((k for k in (guess - 1, guess, guess + 1) if 0 <= k < space_bits), key=size)


def encode(listed: list[Listed], covered: int) -> bytes:
    """The payload for the ``listed`` certificates (each with its neighbours in sorted order: see
    :func:`choose_prefix_bits`) of the ``covered`` certificates issued."""
    bits = choose_prefix_bits(listed)
    shift = SERIAL_BITS - bits
    entries = sorted((serial_int(serial) >> shift, flag) for serial, flag, _, _ in listed)
    prefixes = [p for p, _ in entries]
    k = _rice_k(prefixes, bits)
    status = bytearray((len(entries) + 7) // 8)
    for i, (_, flag) in enumerate(entries):
        if flag == REVOKED:
            status[i >> 3] |= 0x80 >> (i & 7)
    parts: list[str] = []
    prev = -1
    mask = (1 << k) - 1
    fmt = f"0{k}b"
    for p in prefixes:
        gap = p - prev - 1
        parts.append("1" * (gap >> k) + "0" + (format(gap & mask, fmt) if k else ""))
        prev = p
    stream = "".join(parts)
    stream += "0" * (-len(stream) % 8)
    coded = int(stream, 2).to_bytes(len(stream) // 8, "big") if stream else b""
    head = HEADER.pack(MAGIC, VERSION, bits, k, 0, len(entries), covered)
    return head + bytes(status) + coded


def decode(payload: bytes) -> tuple[int, int, tuple[int, ...], bytes]:
    """``(prefix_bits, covered, prefixes, revoked_bits)`` of a payload; StatusListError when it is not
    exactly one well-formed list (truncated, extra bytes, out-of-order prefixes)."""

    def bad(why: str) -> StatusListError:
        return StatusListError("status_list_malformed", f"status list payload: {why}")

    if len(payload) < HEADER.size:
        raise bad("truncated header")
    magic, version, bits, k, _, count, covered = HEADER.unpack_from(payload)
    if magic != MAGIC or version != VERSION:
        raise bad("not an ecert status list (magic or version)")
    if not MIN_PREFIX_BITS <= bits <= SERIAL_BITS or k >= bits or count > covered:
        raise bad("bad header fields")
    status_len = (count + 7) // 8
    body = payload[HEADER.size + status_len :]
    if len(payload) < HEADER.size + status_len or len(body) * 8 < count * (k + 1):
        raise bad("truncated")
    status = payload[HEADER.size : HEADER.size + status_len]
    stream = format(int.from_bytes(body, "big"), f"0{len(body) * 8}b") if body else ""
    prefixes: list[int] = []
    pos, prev, limit = 0, -1, 1 << bits
    try:
        for _ in range(count):
            zero = stream.index("0", pos)
            q = zero - pos
            pos = zero + 1
            r = int(stream[pos : pos + k], 2) if k else 0
            if pos + k > len(stream):
                raise bad("truncated")
            pos += k
            prev = prev + 1 + (q << k) + r
            prefixes.append(prev)
    except ValueError as exc:  # no terminating zero: the stream was cut
        raise bad("truncated") from exc
    if prefixes and prefixes[-1] >= limit:
        raise bad("prefix out of range")
    if len(stream) - pos >= 8 or "1" in stream[pos:]:
        raise bad("extra bytes after the last entry")
    return bits, covered, tuple(prefixes), bytes(status)


def _utc(t: datetime) -> str:
    return t.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def header(kid: str, issued_at: datetime, next_update: datetime) -> dict[str, str]:
    return {"alg": "EdDSA", "kid": kid, "typ": TYP, "issued_at": _utc(issued_at), "next_update": _utc(next_update)}


def _b64d(part: str) -> bytes:
    if not part or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in part):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _instant(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("not a date-time")
    t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if t.tzinfo is None:
        raise ValueError("no time zone")
    return t


def verify(text: str, keys: Mapping[str, Ed25519PublicKey]) -> StatusList:
    """Check a compact JWS status list against the JWKS ``keys`` (kid → key) and read it. Raises
    :class:`StatusListError` (never anything else) for a truncated, re-signed or foreign list."""
    text = text.strip()
    if len(text) > MAX_JWS:
        raise StatusListError("status_list_malformed", "status list too large")
    parts = text.split(".")
    if len(parts) != 3:
        raise StatusListError("status_list_malformed", "status list is not a compact JWS (truncated?)")
    try:
        head = json.loads(_b64d(parts[0]))
        payload = _b64d(parts[1])
        sig = _b64d(parts[2])
        if not isinstance(head, dict):
            raise ValueError("header is not an object")
        issued_at, next_update = _instant(head.get("issued_at")), _instant(head.get("next_update"))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise StatusListError("status_list_malformed", f"status list is not readable: {exc}") from exc
    if len(sig) != 64:
        raise StatusListError("status_list_malformed", "status list signature is truncated")
    if head.get("typ") != TYP or head.get("alg") != "EdDSA" or "crit" in head:
        raise StatusListError("status_list_malformed", "not an ecert status list (typ, alg or crit)")
    kid = head.get("kid")
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise StatusListError("status_list_unknown_key", f"status list signed with an unknown key {kid}")
    try:
        key.verify(sig, f"{parts[0]}.{parts[1]}".encode("ascii"))
    except InvalidSignature as exc:
        raise StatusListError("status_list_bad_signature", "status list signature does not verify") from exc
    bits, covered, prefixes, status = decode(payload)
    assert isinstance(kid, str)
    return StatusList(kid, issued_at, next_update, bits, covered, prefixes, status)
