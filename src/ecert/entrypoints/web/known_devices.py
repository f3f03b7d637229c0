"""Known devices (issue 16 §3, OWASP "Slow down online guessing attacks with device cookies"): a
browser or API client in which an account signed in successfully carries a signed cookie naming that
account. A sign-in from a known device is throttled by that device's own failures only, so a stranger's
wrong passwords (which slow down the account for unknown clients and slow down the stranger's address)
never lock the owner out of the client they usually use.

The cookie: ``v1.<user name, base64url>.<issued, Unix seconds>.<HMAC-SHA256, base64url, 16 bytes>``,
keyed by the keystore's application secret for this purpose (adapters/keystore.py ``app_secret``),
HttpOnly, SameSite=Lax, Secure over HTTPS, 180 days. It proves only that this client once signed in as
that user: it never signs anyone in (the password is still required) and carries nothing secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import datetime, timedelta

from fastapi import Request, Response

from ecert.adapters import keystore
from ecert.entrypoints.web.deps import ctx, is_secure

DEVICE_COOKIE = "ecert_device"
DEVICE_TTL = timedelta(days=180)
_MAX_COOKIE = 400  # characters: anything longer is not one of ours


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(request: Request, username: str, issued: int) -> bytes:
    key = keystore.app_secret(ctx(request).core.keys, "device-cookie")
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
    if version != "v1" or name != username or not hmac.compare_digest(mac, _mac(request, name, issued)):
        return None
    if not 0 <= now.timestamp() - issued <= DEVICE_TTL.total_seconds():
        return None
    return mac.hex()


def remember_device(request: Request, response: Response, username: str, now: datetime) -> None:
    """Mark this client as one where ``username`` signs in (a new cookie, replacing any other)."""
    issued = int(now.timestamp())
    value = f"v1.{_b64(username.encode())}.{issued}.{_b64(_mac(request, username, issued))}"
    response.set_cookie(
        DEVICE_COOKIE, value, httponly=True, samesite="lax", secure=is_secure(request),
        max_age=int(DEVICE_TTL.total_seconds()), path="/",
    )  # fmt: skip
