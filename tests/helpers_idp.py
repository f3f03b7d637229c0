"""Helpers for the single sign-on tests (issue 17): the real OpenID provider of tests/idp (panva's
oidc-provider under Node, OpenID Certified) started on 127.0.0.1 and stopped, a holder driven through
it the way a browser is (without one), and a provider of the test's own in front of the relying party
as an httpx transport, which serves discovery and keys and answers the token request with whatever
ID token the test mints (another issuer, another audience, expired, ``alg: none``, an unknown key …).
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey

from ecert.config import OidcSettings
from ecert.testing import stop

IDP_DIR = Path(__file__).parent / "idp"
CLIENT_ID = "ecert-test"
CLIENT_SECRET = "ecert-test-secret-0123456789abcdefghij"


@dataclass
class Idp:
    issuer: str
    proc: subprocess.Popen[bytes]

    def settings(self, **overrides: Any) -> OidcSettings:
        """The relying party's settings for this provider (plain http allowed: it is on 127.0.0.1)."""
        values: dict[str, Any] = {
            "issuer": self.issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "allow_http": True,
        }  # fmt: skip
        return OidcSettings(**(values | overrides))


def idp_config(users: dict[str, dict[str, str]], sites: list[str], port: int = 0) -> dict[str, Any]:
    """IDP_CONFIG of tests/idp/server.mjs: the test client for the ecert sites ``sites`` (base URLs)."""
    client = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [f"{s}/auth/callback" for s in sites],
        "post_logout_redirect_uris": [f"{s}/" for s in sites],
    }
    return {"port": port, "clients": [client], "users": users}


@contextmanager
def running_idp(users: dict[str, dict[str, str]], sites: list[str]) -> Iterator[Idp]:
    """tests/idp/server.mjs on a free port of 127.0.0.1 for the tests' client, stopped afterwards."""
    assert (IDP_DIR / "node_modules" / "oidc-provider").is_dir(), "run scripts/setup (npm ci in tests/idp)"
    proc = subprocess.Popen(
        ["node", "server.mjs"], cwd=IDP_DIR, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env={**os.environ, "IDP_CONFIG": json.dumps(idp_config(users, sites))}, start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline().decode() if ready else ""
        assert line.startswith("listening "), f"the test provider did not start: {line!r}"
        yield Idp(line.split()[1], proc)
    finally:
        stop(proc)


@dataclass
class Browser:
    """The relying party's test client and a cookie jar for the provider: a browser without one."""

    site: TestClient
    idp: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10, trust_env=False))

    def sign_in_at_provider(self, authorize_url: str, login: str) -> str:
        """Follow the provider from its authorization URL, sign in as ``login`` on its form, and
        return the URL it sends the browser back to (this site's callback)."""
        url = authorize_url
        for _ in range(10):
            res = self.idp.get(url)
            if res.status_code in (302, 303):
                url = urljoin(url, res.headers["location"])
                if not url.startswith(self._idp_base(authorize_url)):
                    return url
                continue
            action = re.search(r'<form[^>]*action="([^"]+)"', res.text)
            assert action, res.text[:500]
            res = self.idp.post(
                urljoin(url, action.group(1)), data={"prompt": "login", "login": login, "password": "x"}
            )
            assert res.status_code in (302, 303), res.text[:500]
            url = urljoin(url, res.headers["location"])
        raise AssertionError("the provider never sent the browser back")

    @staticmethod
    def _idp_base(url: str) -> str:
        p = urlsplit(url)
        return f"{p.scheme}://{p.netloc}"

    def start(self, next: str = "") -> str:
        """``/login/platform``: the provider's authorization URL it redirects to."""
        res = self.site.get("/login/platform", params={"next": next} if next else None, follow_redirects=False)
        assert res.status_code == 303, res.text
        return str(res.headers["location"])

    def callback(self, url: str) -> httpx.Response:
        p = urlsplit(url)
        return self.site.get(f"{p.path}?{p.query}", follow_redirects=False)

    def sign_in(self, login: str, next: str = "") -> httpx.Response:
        """The whole sign-in: this site → the provider → this site's callback, whose answer is returned."""
        return self.callback(self.sign_in_at_provider(self.start(next), login))


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


class FakeProvider:
    """A provider of the test's own, as an httpx transport in front of the relying party: discovery,
    its keys, and a token endpoint answering with :attr:`next_id_token` (or, left None, a correct ID
    token for the nonce of the last authorization request)."""

    issuer = "https://platform.test"

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "platform-1", "use": "sig", "alg": "RS256"})
        self.claims: dict[str, Any] = {"sub": "fake-subject-1"}
        self.next_id_token: str | None = None
        self.nonce = ""
        self.token_requests: list[dict[str, str]] = []
        self.transport = httpx.MockTransport(self._handle)

    def settings(self, **overrides: Any) -> OidcSettings:
        values: dict[str, Any] = {"issuer": self.issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        return OidcSettings(**(values | overrides))

    def id_token(self, *, header: dict[str, Any] | None = None, key: Any = None, **claims: Any) -> str:
        """An ID token signed with the provider's key (or ``key``): correct unless ``claims`` say otherwise."""
        now = int(time.time())
        body = {
            "iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300, "nonce": self.nonce, **self.claims,
        }  # fmt: skip
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(header or {"alg": "RS256", "kid": "platform-1"}, body, key or self.key)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/.well-known/openid-configuration":
            return httpx.Response(200, json={
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "end_session_endpoint": f"{self.issuer}/logout",
                "id_token_signing_alg_values_supported": ["RS256"],
            })  # fmt: skip
        if path == "/jwks":
            return httpx.Response(200, json={"keys": [self.key.as_dict(private=False)]})
        if path == "/token":
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            self.token_requests.append(form)
            token = self.next_id_token or self.id_token()
            return httpx.Response(200, json={"access_token": "at", "token_type": "Bearer", "id_token": token})
        return httpx.Response(404)
