"""The QR token (R-DOC-4): a compact, signed, tamper-evident payload, printed as an uppercase URL.

Layout (bytes), then Base32 without padding (A–Z, 2–7: all in the QR alphanumeric set, so the
whole URL encodes at 5.5 bits a character)::

    1  version (1)
    4  kid: first 4 bytes of SHA-256 of the Ed25519 public key (key rotation)
   10  certificate serial (80 random bits: not guessable, not enumerable)
  1+n  registration number: 1 byte index of its first character + digits packed as an integer
    2  usage_from, days since 2000-01-01
    2  usage_until, days since 2000-01-01
   16  content digest (first 16 bytes of SHA-256 of the certificate's canonical content)
   64  Ed25519 signature over b"ecert-qr-v1" + all of the above

About 110 bytes → 176 Base32 characters; with the URL prefix about 210 characters.
Decoding is bounded: the text is capped before any work and the layout has no compression.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import date, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ecert.domain import provinces
from ecert.domain.verification import TokenClaims

VERSION = 1
DOMAIN_TAG = b"ecert-qr-v1"
EPOCH = date(2000, 1, 1)
MAX_TEXT = 600  # a scanner's text beyond this is not ours; refuse before decoding anything
SERIAL_BYTES = 10
DIGEST_BYTES = 16
SIG_BYTES = 64
# First characters of registration numbers, canonical abbreviations then aliases: a stable order.
FIRST_CHARS: tuple[str, ...] = (*provinces.PROVINCES, *provinces.ALIASES)


class TokenError(Exception):
    """Why a scanned text is not a valid token. ``code``: malformed | unknown_key | bad_signature."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def kid_of(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).digest()[:4].hex()


def serial_to_bytes(serial: str) -> bytes:
    raw = base64.b32decode(serial.upper())
    if len(raw) != SERIAL_BYTES:
        raise ValueError("serial must be 16 Base32 characters")
    return raw


def serial_from_bytes(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii")


def _pack_registration_no(reg: str) -> bytes:
    first, digits = reg[0], reg[1:]
    if first not in FIRST_CHARS or not digits.isdigit() or len(digits) > 30:
        raise ValueError(f"cannot pack registration number {reg!r}")
    n = int(digits)
    width = (n.bit_length() + 7) // 8 or 1
    return bytes([FIRST_CHARS.index(first), len(digits), width]) + n.to_bytes(width, "big")


def _days(d: date) -> bytes:
    return (d - EPOCH).days.to_bytes(2, "big")


def encode(claims_serial: str, registration_no: str, usage_from: date, usage_until: date, digest: bytes,
           key: Ed25519PrivateKey) -> str:  # fmt: skip
    kid = bytes.fromhex(kid_of(key.public_key()))
    body = (
        bytes([VERSION])
        + kid
        + serial_to_bytes(claims_serial)
        + _pack_registration_no(registration_no)
        + _days(usage_from)
        + _days(usage_until)
        + digest[:DIGEST_BYTES]
    )
    sig = key.sign(DOMAIN_TAG + body)
    return base64.b32encode(body + sig).decode("ascii").rstrip("=")


def token_url(base_url: str, token: str) -> str:
    """``<BASE-URL>/V/<TOKEN>`` in upper case, so the QR uses alphanumeric mode."""
    return f"{base_url.rstrip('/').upper()}/V/{token}"


def extract_token(text: str) -> str:
    """The token from what a scanner read: a URL ending in /v/<token> (any case) or the bare token."""
    t = text.strip()
    if len(t) > MAX_TEXT:
        raise TokenError("malformed", "text too long to be an ecert QR code")
    upper = t.upper()
    idx = upper.rfind("/V/")
    if idx >= 0:
        t = t[idx + 3 :]
    t = t.split("?", 1)[0].split("#", 1)[0].strip("/")
    return t.upper()


def decode(text: str, keys: dict[str, Ed25519PublicKey]) -> TokenClaims:
    """Verify and parse. Raises TokenError (never anything else) on a bad, forged or truncated token."""
    token = extract_token(text)
    if not token or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" for c in token):
        raise TokenError("malformed", "not an ecert token (unexpected characters)")
    try:
        raw = base64.b32decode(token + "=" * (-len(token) % 8))
    except (ValueError, TypeError) as exc:
        raise TokenError("malformed", "not an ecert token (bad Base32)") from exc
    if base64.b32encode(raw).decode("ascii").rstrip("=") != token:
        # Non-zero padding bits: one token, one text (no malleable spellings of the same token).
        raise TokenError("malformed", "not an ecert token (non-canonical Base32)")
    try:
        if raw[0] != VERSION:
            raise TokenError("malformed", f"unknown token version {raw[0]}")
        kid = raw[1:5].hex()
        pos = 5
        serial = serial_from_bytes(raw[pos : pos + SERIAL_BYTES])
        pos += SERIAL_BYTES
        first_idx, n_digits, width = raw[pos], raw[pos + 1], raw[pos + 2]
        pos += 3
        if first_idx >= len(FIRST_CHARS) or not 1 <= n_digits <= 30 or not 1 <= width <= 13:
            raise TokenError("malformed", "bad registration number field")
        number = int.from_bytes(raw[pos : pos + width], "big")
        pos += width
        reg_no = FIRST_CHARS[first_idx] + str(number).zfill(n_digits)
        if len(reg_no) != n_digits + 1:
            raise TokenError("malformed", "bad registration number field")
        usage_from = EPOCH + timedelta(days=int.from_bytes(raw[pos : pos + 2], "big"))
        usage_until = EPOCH + timedelta(days=int.from_bytes(raw[pos + 2 : pos + 4], "big"))
        pos += 4
        digest16 = raw[pos : pos + DIGEST_BYTES]
        pos += DIGEST_BYTES
        body, sig = raw[:pos], raw[pos:]
    except IndexError as exc:
        raise TokenError("malformed", "token is truncated") from exc
    if len(digest16) != DIGEST_BYTES or len(sig) != SIG_BYTES:
        raise TokenError("malformed", "token is truncated or has extra bytes")
    key = keys.get(kid)
    if key is None:
        raise TokenError("unknown_key", f"token signed with an unknown key {kid}")
    try:
        key.verify(sig, DOMAIN_TAG + body)
    except InvalidSignature as exc:
        raise TokenError("bad_signature", "token signature does not verify") from exc
    return TokenClaims(serial, reg_no, usage_from, usage_until, digest16, kid)


def generate_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()
