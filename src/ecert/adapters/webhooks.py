"""Signed notifications over HTTP (issue 14 item 1): the Standard Webhooks signature and a client that
goes only where it is allowed to.

Signing: ``standardwebhooks`` (the specification's own Python library): ``webhook-id`` (the event id,
the same on every try), ``webhook-timestamp`` (Unix seconds, real time), ``webhook-signature``
(``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body`` under the subscription's ``whsec_`` secret), so a
receiver checks a request with ``standardwebhooks.Webhook(secret).verify(body, headers)``. The URL's
handshake uses the same library's endpoint verification: a ``webhook-challenge`` header, answered by
``webhook-challenge-response`` = ``Webhook(secret).endpoint_verification_response(challenge)``.

Where a request may go (SSRF): the URL is parsed again (https only unless allowed), the host name
is resolved once and EVERY address it gives must be allowed (domain/subscriptions.py
``address_allowed``: no private, loopback or link-local address unless allowed); the connection is
then made to that checked address — the name is not resolved a second time, so a DNS answer that
changes between the check and the connection (rebinding) changes nothing — with the host name kept
for the ``Host`` header and TLS (SNI and certificate check). Redirects are not followed (a 3xx is a
failed try), each socket operation has a timeout, and at most 64 KiB of an answer is read.
"""

from __future__ import annotations

import base64
import http.client
import json
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

from ecert.domain import subscriptions as subs
from ecert.domain.errors import BadInput

MAX_ANSWER = 64 * 1024
USER_AGENT = "ecert-webhooks/1"
Resolver = Callable[[str, int], list[str]]


def new_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def signed_headers(secret: str, msg_id: str, body: bytes, at: datetime | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``, signed now (real time: receivers compare it with theirs)."""
    moment = at or datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, moment, body),
    }


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Answer:
    """One request's outcome: ``ok`` for a 2xx; otherwise why not (``error``, a short code and text)."""

    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int
    headers: Mapping[str, str]


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._ctx = context

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._ctx.wrap_socket(raw, server_hostname=self.host)


class WebhookSender:
    """Posts signed notifications. Connections are kept per thread and per (scheme, host, port, address)
    for the life of the sender (one delivery run), so a run of events to one receiver reuses them."""

    def __init__(
        self,
        *,
        timeout: float,
        allow_http: bool,
        allow_private: bool,
        resolver: Resolver = system_resolver,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.timeout = timeout
        self.allow_http = allow_http
        self.allow_private = allow_private
        self.resolver = resolver
        self.tls = tls or ssl.create_default_context()
        self._lock = threading.Lock()
        self._idle: dict[tuple[str, str, int, str], list[http.client.HTTPConnection]] = {}

    def _take(self, key: tuple[str, str, int, str]) -> http.client.HTTPConnection | None:
        with self._lock:
            idle = self._idle.get(key)
            return idle.pop() if idle else None

    def _give(self, key: tuple[str, str, int, str], conn: http.client.HTTPConnection) -> None:
        with self._lock:
            self._idle.setdefault(key, []).append(conn)

    def close(self) -> None:
        """Close the connections kept open."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()

    def check_url(self, url: str) -> subs.Target:
        """The URL's form and, for a literal address, the address (BadInput naming ``url``)."""
        target = subs.parse_target(url, allow_http=self.allow_http)
        subs.check_literal_host(target, allow_private=self.allow_private)
        return target

    def _address(self, target: subs.Target) -> str:
        try:
            addresses = self.resolver(target.host, target.port)
        except (OSError, UnicodeError) as exc:
            raise _Refused(f"dns: {exc}") from exc
        if not addresses:
            raise _Refused("dns: no address")
        barred = [a for a in addresses if not subs.address_allowed(a, allow_private=self.allow_private)]
        if barred:
            raise _Refused(f"address_not_allowed: {target.host} → {barred[0]}")
        return addresses[0]

    def post(self, url: str, headers: Mapping[str, str], body: bytes) -> Answer:
        start = time.perf_counter()

        def answer(ok: bool, code: int | None, error: str | None, got: Mapping[str, str] | None = None) -> Answer:
            return Answer(ok, code, error, int((time.perf_counter() - start) * 1000), got or {})

        try:
            target = self.check_url(url)
            address = self._address(target)
        except BadInput as exc:
            return answer(False, None, f"url_not_allowed: {exc.problems[0].message_en}")
        except _Refused as exc:
            return answer(False, None, str(exc))
        key = (target.scheme, target.host, target.port, address)
        conn = self._take(key)
        all_headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **headers,
        }
        for reused in (True, False) if conn is not None else (False,):
            if conn is None:
                if target.scheme == "https":
                    conn = _PinnedHTTPS(target.host, target.port, address, self.timeout, self.tls)
                else:
                    conn = _PinnedHTTP(target.host, target.port, address, self.timeout)
            try:
                conn.request("POST", target.path, body=body, headers=all_headers)
                resp = conn.getresponse()
                resp.read(MAX_ANSWER)
                got = {k.lower(): v for k, v in resp.getheaders()}
            except TimeoutError:
                conn.close()
                return answer(False, None, f"timeout: no answer within {self.timeout:g} s")
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = None
                if reused:  # the receiver closed a kept connection: try once on a new one
                    continue
                return answer(False, None, f"connection: {type(exc).__name__}: {exc}")
            if resp.will_close or not resp.isclosed():
                conn.close()
            else:
                self._give(key, conn)
            code = resp.status
            if 200 <= code < 300:
                return answer(True, code, None, got)
            if 300 <= code < 400:
                return answer(False, code, f"redirect_not_followed: {got.get('location', '')[:200]}", got)
            return answer(False, code, f"http_{code}", got)
        return answer(False, None, "connection: closed")

    def deliver(self, url: str, secret: str, msg_id: str, body: bytes) -> Answer:
        return self.post(url, signed_headers(secret, msg_id, body), body)

    def handshake(self, url: str, secret: str, subscription_id: str) -> Answer:
        """The URL's proof of control: a signed ``endpoint.verification`` request with a random
        ``webhook-challenge``; only a 2xx answer whose ``webhook-challenge-response`` is right passes."""
        challenge = secrets.token_urlsafe(24)
        body = json.dumps(
            {
                "type": subs.VERIFICATION_TYPE,
                "timestamp": datetime.now(UTC).isoformat(),
                "data": {"subscription_id": subscription_id, "challenge": challenge},
            },
            separators=(",", ":"),
        ).encode()
        headers = {**signed_headers(secret, f"msg_verify_{secrets.token_hex(8)}", body), "webhook-challenge": challenge}
        got = self.post(url, headers, body)
        if not got.ok:
            return got
        try:
            Webhook(secret).verify_endpoint_verification_response(
                challenge, got.headers.get("webhook-challenge-response", "")
            )
        except WebhookVerificationError:
            return Answer(
                False,
                got.status_code,
                "challenge_failed: no valid webhook-challenge-response",
                got.duration_ms,
                got.headers,
            )
        return got


class _Refused(Exception):
    pass


def encode(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
