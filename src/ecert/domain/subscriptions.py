"""Subscriptions and their notifications (issue 14 item 1): what an event says, which target URLs are
allowed, and when a failed delivery is tried again. Pure: no I/O, instants passed in.

An event tells a relying party that a certificate or registration it verified changed: its type, the
serial and registration number, the date it takes effect, the legal basis of a revocation or
cancellation, and where to check the current state — nothing else about the holder (no name, no ID
number, no employer).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from ecert.domain.dates import cst_date
from ecert.domain.errors import BadInput, problem
from ecert.domain.model import SupersessionCause

# Event types (stable codes; README "Subscriptions").
CERTIFICATE_SUPERSEDED = "certificate.superseded"  # R-CHG-1: printed data changed, a new certificate is due
REGISTRATION_REVOKED = "registration.revoked"  # 撤销 (R-LAPSE-1)
REGISTRATION_CANCELLED = "registration.cancelled"  # 注销 (R-LAPSE-1)
REGISTRATION_LAPSED = "registration.lapsed"  # a specialty lapsed (R-REN-3, age limit)
EVENT_TYPES = (CERTIFICATE_SUPERSEDED, REGISTRATION_REVOKED, REGISTRATION_CANCELLED, REGISTRATION_LAPSED)
VERIFICATION_TYPE = "endpoint.verification"  # the handshake's request, never stored as an event

# Subscription states: ``pending`` until the URL answered the handshake, then ``active``. Events are
# recorded for both; only an active subscription's are sent.
PENDING, ACTIVE = "pending", "active"
RECORDED_FOR = (PENDING, ACTIVE)
# Event states.
EVENT_PENDING, EVENT_DELIVERED, EVENT_DEAD = "pending", "delivered", "dead"

MAX_URL = 2000


def event_type_for(cause: SupersessionCause) -> str:
    if cause is SupersessionCause.REVOCATION:
        return REGISTRATION_REVOKED
    if cause is SupersessionCause.CANCELLATION:
        return REGISTRATION_CANCELLED
    return CERTIFICATE_SUPERSEDED


@dataclass(frozen=True)
class Event:
    """One stored event for one subscription (its ``id`` is the Standard Webhooks ``webhook-id``)."""

    id: str
    subscription_id: str
    type: str
    cause: str | None
    registration_no: str
    serial: str | None
    effective: date
    basis: str | None
    occurred_at: datetime


def verify_url(base_url: str, registration_no: str, effective: date) -> str:
    """Where anyone checks the registration's current state: the public "valid on a date" page, which
    answers from the registry with a signed attestation (issue 13)."""
    return f"{base_url.rstrip('/')}/attest?registration_no={quote(registration_no)}&date={effective.isoformat()}"


def event_body(event: Event, base_url: str) -> dict[str, Any]:
    """The JSON body sent for ``event`` (Standard Webhooks: ``type``, ``timestamp``, ``data``)."""
    data: dict[str, Any] = {
        "event_id": event.id,
        "registration_no": event.registration_no,
        "serial": event.serial,
        "effective_date": event.effective.isoformat(),
        "cause": event.cause,
        "verify_url": verify_url(base_url, event.registration_no, event.effective),
    }
    if event.type in (REGISTRATION_REVOKED, REGISTRATION_CANCELLED):
        data["legal_basis"] = event.basis
    return {"type": event.type, "timestamp": event.occurred_at.isoformat(), "data": data}


def effective_day(at: datetime) -> date:
    """The day a change takes effect when it names none: its China-time date (R-DATE-1)."""
    return cst_date(at)


# ------------------------------------------------------------------------------------------ URLs


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with the query


def parse_target(url: str, *, allow_http: bool) -> Target:
    """A subscription's URL, checked for its form: ``https://`` (``http://`` only with ``allow_http``),
    a host, no user name or password, no fragment. The address it resolves to is checked when a
    request is made (:func:`address_allowed`)."""
    raw = url.strip()

    def bad(zh: str, en: str) -> BadInput:
        return BadInput([problem(f"通知地址无效:{zh}", f"Bad notification URL: {en}", column="url")])

    if not raw or len(raw) > MAX_URL or any(ord(c) < 33 or ord(c) == 127 for c in raw):
        raise bad("为空、过长或含空白/控制字符", "empty, too long, or has spaces or control characters")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise bad("无法解析", "cannot be parsed") from exc
    if parts.scheme not in ("https", "http"):
        raise bad("只接受 https://", "only https:// is accepted")
    if parts.scheme == "http" and not allow_http:
        raise bad("只接受 https://(本服务不允许 http)", "only https:// is accepted (http is not allowed here)")
    if not parts.hostname:
        raise bad("缺少主机名", "no host")
    if parts.username is not None or parts.password is not None:
        raise bad("不得含用户名或密码", "must not carry a user name or password")
    if parts.fragment:
        raise bad("不得含片段(#)", "must not carry a fragment (#)")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default = 443 if parts.scheme == "https" else 80
    return Target(parts.scheme, parts.hostname, port or default, path)


def address_allowed(address: str, *, allow_private: bool) -> bool:
    """Whether a request may go to ``address`` (an IP): never to an unspecified, multicast or reserved
    address; to a private, loopback, link-local (169.254.0.0/16: cloud metadata) or other
    non-public one only with ``allow_private``. An IPv4 address inside IPv6 is judged as IPv4."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if inner is not None:
            ip = inner
    if ip.is_unspecified or ip.is_multicast:
        return False
    if ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_reserved or not ip.is_global:
        return allow_private and not ip.is_reserved
    return True


def check_literal_host(target: Target, *, allow_private: bool) -> None:
    """Refuse at once a URL whose host is an IP address that may not be called (the name of a host is
    checked on each request, after it is resolved)."""
    try:
        ipaddress.ip_address(target.host)
    except ValueError:
        return
    if not address_allowed(target.host, allow_private=allow_private):
        raise BadInput(
            [
                problem(
                    f"通知地址不得指向内网、本机或链路本地地址({target.host})",
                    f"The notification URL must not point at a private, loopback or link-local address ({target.host})",
                    column="url",
                )
            ]
        )


# ------------------------------------------------------------------------------------------ retries


def backoff_seconds(attempts: int, *, base: float, cap: float) -> float:
    """Wait before the next try after ``attempts`` failed ones: ``base`` · 2^(attempts − 1), at most ``cap``."""
    return float(min(cap, base * (2 ** max(0, attempts - 1))))
