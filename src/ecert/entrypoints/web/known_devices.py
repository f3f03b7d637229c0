"""Known devices (issue 16 §3, OWASP "Slow down online guessing attacks with device cookies"): a
browser or API client in which an account signed in successfully carries a signed cookie naming that
account. A sign-in from a known device is throttled by that device's own failures only, so a stranger's
wrong passwords (which slow down the account for unknown clients and slow down the stranger's address)
never lock the owner out of the client they usually use.

The cookie: ``v1.<user name, base64url>.<issued, Unix seconds>.<HMAC-SHA256, base64url, 16 bytes>``,
keyed by the keystore's application secret for this purpose (adapters/keystore.py ``app_secret``),
HttpOnly, SameSite=Lax, Secure over HTTPS, 180 days. It proves only that this client once signed in as
that user: it never signs anyone in (the password is still required) and carries nothing secret.
Without an application secret (a read-only keys directory that lacks one) no client is a known
device — sign-ins still work, throttled as from unknown clients — and the log says so.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
from datetime import datetime, timedelta

from fastapi import Request, Response

from ecert.adapters import keystore
from ecert.domain.errors import EcertError
from ecert.entrypoints.web.deps import ctx, is_secure

log = logging.getLogger("ecert.web")

DEVICE_COOKIE = "ecert_device"
DEVICE_TTL = timedelta(days=180)
_MAX_COOKIE = 400  # characters: anything longer is not one of ours


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(request: Request, username: str, issued: int) -> bytes | None:
    try:
        key = keystore.app_secret(ctx(request).core.keys, "device-cookie")
    except EcertError as exc:
        log.warning("no known devices: %s", exc.message("en"))
        return None
    return hmac.new(key, f"v1|{username}|{issued}".encode(), hashlib.sha256).digest()[:16]


def known_device(request: Request, username: str, now: datetime) -> str | None:
    """The id of this client's device cookie when it verifies, names ``username`` and is younger
    than :data:`DEVICE_TTL`; else None (no cookie, another user's, forged, expired)."""
    raw = request.cookies.get(DEVICE_COOKIE, "")
    if not raw or len(raw) > _MAX_COOKIE:
        return None
    try:
        version, name_b64, issued_text, mac_b64 = raw.split(".")
        name, issued, mac = _unb64(name_b64).decode("utf-8"), int(issued_text), _unb64(mac_b64)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if version != "v1" or name != username:
        return None
    expected = _mac(request, name, issued)
    if expected is None or not hmac.compare_digest(mac, expected):
        return None
    if not 0 <= now.timestamp() - issued <= DEVICE_TTL.total_seconds():
        return None
    return mac.hex()


def remember_device(request: Request, response: Response, username: str, now: datetime) -> None:
    """Mark this client as one where ``username`` signs in (a new cookie, replacing any other)."""
    issued = int(now.timestamp())
    mac = _mac(request, username, issued)
    if mac is None:
        return
    value = f"v1.{_b64(username.encode())}.{issued}.{_b64(mac)}"
    response.set_cookie(
        DEVICE_COOKIE, value, httponly=True, samesite="lax", secure=is_secure(request),
        max_age=int(DEVICE_TTL.total_seconds()), path="/",
    )  # fmt: skip
