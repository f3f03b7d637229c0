"""The holders' platform sign-in: an OpenID Connect relying party (R-ACC-1) on Authlib and joserfc.

Authlib (the maintained OAuth 2 / OpenID Connect library of Python) writes the authorization request
with its PKCE (S256) challenge and the token request with the client's authentication; joserfc
(Authlib's JOSE successor, by the same maintainer) checks the ID token. The HTTP is httpx, called
here: Authlib's own httpx integration is being moved to another HTTP package (it warns), and the
protocol pieces are the part worth a library. What this module does itself is what the
specification asks of a relying party:

* discovery from the issuer (``/.well-known/openid-configuration``), whose ``issuer`` must be the
  one configured (OpenID Connect Discovery 4.3);
* the ID token's signature against the provider's published keys (JWKS; fetched again once, at
  most every :data:`JWKS_REFRESH` seconds, when a token names a key not yet known: key rotation),
  asymmetric algorithms only (``none`` and HMAC refused), then ``iss``, ``aud`` (and ``azp`` when
  several audiences), ``exp``, ``iat`` and the ``nonce`` of this sign-in;
* the end-session URL of RP-initiated logout (``id_token_hint``, ``post_logout_redirect_uri``).

Every refusal is :class:`SignInRefused` (``platform_signin_failed``) with a short ``why`` for the
audit log; a provider that cannot be reached is ``platform_unavailable``. The HTTP transport is
injectable (httpx), so tests can stand a provider of their own in front of it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ecert.config import OidcSettings
from ecert.domain.errors import EcertError
from ecert.domain.messages import Localized

# Asymmetric signatures only: "none" is never accepted, nor HMAC (which would make the client
# secret, known to this service, a key that can forge tokens).
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
DISCOVERY_TTL = 3600.0  # seconds the provider's configuration is kept
JWKS_REFRESH = 30.0  # at least this many seconds between two fetches of the keys for an unknown key id
LEEWAY = 60  # seconds of clock difference allowed on exp and iat
TIMEOUT = 10.0


def _s256(verifier: str) -> str:
    """The PKCE S256 challenge of ``verifier`` (RFC 7636 4.2)."""
    challenge: str = create_s256_code_challenge(verifier)  # type: ignore[no-untyped-call]  # unannotated in the stubs
    return challenge


class SignInRefused(EcertError):
    """The platform sign-in is refused: ``why`` is a short code for the audit log."""

    def __init__(self, why: str, zh: str, en: str) -> None:
        self.why = why
        super().__init__("platform_signin_failed", params={"reason": Localized(zh, en)})


def unavailable(en: str) -> EcertError:
    return EcertError("platform_unavailable", params={"reason": en})


@dataclass(frozen=True)
class AuthorizationRequest:
    """Where to send the browser, and what the callback must find again (kept server-side)."""

    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class VerifiedIdentity:
    """What a verified ID token says: who (``issuer``, ``subject``) and the two claims compared
    with the registry. ``id_token`` is kept only for the end-session request's ``id_token_hint``."""

    issuer: str
    subject: str
    id_number: str | None
    name: str | None
    id_token: str


class OidcClient:
    def __init__(
        self,
        settings: OidcSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._transport = transport
        self._now = now
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None
        self._keys_at = -JWKS_REFRESH

    # ------------------------------------------------------------------ provider's metadata and keys
    def _http(self) -> httpx.Client:
        return httpx.Client(transport=self._transport, timeout=TIMEOUT, follow_redirects=False)

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            with self._http() as http:
                response = http.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise unavailable(f"{url}: {exc}") from exc
        if not isinstance(data, dict):
            raise unavailable(f"{url}: not a JSON object")
        return data

    def metadata(self) -> dict[str, Any]:
        """The provider's configuration (discovery), kept :data:`DISCOVERY_TTL` seconds."""
        with self._lock:
            if self._metadata is not None and self._now() - self._metadata_at < DISCOVERY_TTL:
                return self._metadata
        issuer = self.settings.issuer
        data = self._get_json(f"{issuer}/.well-known/openid-configuration")
        if data.get("issuer") != issuer:
            raise unavailable(f"the provider calls itself {data.get('issuer')!r}, not {issuer!r}")
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(data.get(key), str):
                raise unavailable(f"the provider's configuration has no {key}")
        with self._lock:
            self._metadata, self._metadata_at = data, self._now()
        return data

    def _key_set(self, kid: str | None) -> KeySet:
        """The provider's keys; fetched again when ``kid`` is not among them (not more often than
        every :data:`JWKS_REFRESH` seconds, so forged key ids cannot make us hammer the provider)."""
        with self._lock:
            keys, fetched_at = self._keys, self._keys_at
        known = keys is not None and (kid is None or any(k.kid == kid for k in keys.keys))
        if keys is not None and (known or self._now() - fetched_at < JWKS_REFRESH):
            return keys
        data = self._get_json(self.metadata()["jwks_uri"])
        try:
            keys = KeySet.import_key_set(data)  # type: ignore[arg-type]  # a JWKS document
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise unavailable(f"the provider's keys do not parse: {exc}") from exc
        with self._lock:
            self._keys, self._keys_at = keys, self._now()
        return keys

    # ------------------------------------------------------------------ the flow
    def authorization_request(self, redirect_uri: str) -> AuthorizationRequest:
        """A new sign-in: fresh ``state``, ``nonce`` and PKCE verifier, and the provider's URL."""
        s = self.settings
        endpoint = self.metadata()["authorization_endpoint"]
        state, nonce, verifier = generate_token(43), generate_token(43), generate_token(64)
        url = prepare_grant_uri(
            endpoint, s.client_id, "code", redirect_uri=redirect_uri, scope=" ".join(s.scopes), state=state,
            nonce=nonce, code_challenge=_s256(verifier), code_challenge_method="S256",
        )  # fmt: skip
        return AuthorizationRequest(url=url, state=state, nonce=nonce, code_verifier=verifier)

    def redeem(self, code: str, *, code_verifier: str, nonce: str, redirect_uri: str) -> VerifiedIdentity:
        """Exchange the code (with the PKCE verifier) and check the ID token that comes back."""
        s = self.settings
        token_endpoint = self.metadata()["token_endpoint"]
        body = prepare_token_request(
            "authorization_code", code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
        )
        auth = ClientAuth(s.client_id, s.client_secret, "client_secret_basic" if s.client_secret else "none")
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        url, headers, body = auth.prepare("POST", token_endpoint, headers, body)  # type: ignore[no-untyped-call]  # unannotated in the stubs
        try:
            with self._http() as http:
                response = http.post(url, headers=headers, content=body)
            token = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise unavailable(f"{token_endpoint}: {exc}") from exc
        if response.status_code != 200 or not isinstance(token, dict) or "error" in token:
            # The provider refused: a used or expired code, a wrong verifier or redirect URI …
            error = str(token.get("error") if isinstance(token, dict) else response.status_code)[:60]
            raise SignInRefused(
                "code_refused",
                f"政务服务平台拒绝了授权码({error})",
                f"The platform refused the authorization code ({error})",
            )
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SignInRefused("no_id_token", "政务服务平台未返回身份令牌", "The platform returned no ID token")
        return self.verify_id_token(id_token, nonce=nonce)

    def verify_id_token(self, id_token: str, *, nonce: str) -> VerifiedIdentity:
        """The checks of OpenID Connect Core 3.1.3.7 that apply to the code flow, or :class:`SignInRefused`."""
        s = self.settings
        try:
            header = jws.extract_compact(id_token.encode()).protected
        except (JoseError, ValueError) as exc:
            raise SignInRefused("malformed", "身份令牌格式有误", "The ID token is malformed") from exc
        alg = header.get("alg")
        offered = self.metadata().get("id_token_signing_alg_values_supported") or ["RS256"]
        if alg not in ALGORITHMS or alg not in offered:
            raise SignInRefused(
                "bad_alg", f"身份令牌的签名算法 {alg!r} 不被接受", f"The ID token's algorithm {alg!r} is refused"
            )
        kid = header.get("kid")
        keys = self._key_set(kid if isinstance(kid, str) else None)
        if isinstance(kid, str) and not any(k.kid == kid for k in keys.keys):
            raise SignInRefused("unknown_key", "身份令牌由未知密钥签名", "The ID token is signed by an unknown key")
        try:
            claims = jwt.decode(id_token, keys, algorithms=[alg]).claims
        except (JoseError, ValueError) as exc:
            raise SignInRefused("bad_signature", "身份令牌的签名无效", "The ID token's signature is not valid") from exc
        _check_claims(claims, issuer=s.issuer, client_id=s.client_id, nonce=nonce, now=self._now())
        id_number, name = claims.get(s.id_number_claim), claims.get(s.name_claim) if s.name_claim else None
        return VerifiedIdentity(
            issuer=claims["iss"],
            subject=claims["sub"],
            id_number=id_number if isinstance(id_number, str) else None,
            name=name if isinstance(name, str) else None,
            id_token=id_token,
        )

    def end_session_url(self, id_token: str | None, post_logout_redirect_uri: str) -> str | None:
        """The provider's end-session request (RP-initiated logout 1.0), or None if it has none."""
        try:
            endpoint = self.metadata().get("end_session_endpoint")
        except EcertError:
            return None  # signing out here must not fail because the provider is down
        if not isinstance(endpoint, str):
            return None
        params = {"client_id": self.settings.client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
        if id_token:
            params["id_token_hint"] = id_token
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"


def _check_claims(claims: Mapping[str, Any], *, issuer: str, client_id: str, nonce: str, now: float) -> None:
    if claims.get("iss") != issuer:
        raise SignInRefused("wrong_issuer", "身份令牌不是本平台签发的", "The ID token was issued by another issuer")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if client_id not in audiences or (len(audiences) > 1 and claims.get("azp") != client_id):
        raise SignInRefused("wrong_audience", "身份令牌不是签发给本系统的", "The ID token is meant for another client")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or not isinstance(iat, int | float):
        raise SignInRefused("no_times", "身份令牌缺少签发或过期时间", "The ID token has no issue or expiry time")
    if exp <= now - LEEWAY:
        raise SignInRefused("expired", "身份令牌已过期", "The ID token has expired")
    if iat > now + LEEWAY:
        raise SignInRefused("not_yet_valid", "身份令牌的签发时间在未来", "The ID token is issued in the future")
    if claims.get("nonce") != nonce:
        raise SignInRefused(
            "wrong_nonce", "身份令牌与本次登录不符(nonce)", "The ID token is not for this sign-in (nonce)"
        )
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 255:
        raise SignInRefused("no_subject", "身份令牌缺少用户标识", "The ID token has no subject")
