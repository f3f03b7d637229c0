"""Signed answers as JSON Web Signatures (issue 13 item 2) and the public keys as a JWKS.

The document is canonicalised with RFC 8785 (the ``rfc8785`` package: the JSON Canonicalization
Scheme, so the signed bytes are one well-defined serialisation of the JSON) and signed as a compact
JWS (RFC 7515) with EdDSA over Ed25519 (RFC 8037) under the QR key (R-DOC-4), its ``kid`` being the
QR token's 4-byte key id in hex (adapters/qr_token.py ``kid_of``): the JWKS that ``ecert keys export
--jwks`` writes and ``/.well-known/jwks.json`` serves then checks both.

JOSE library: joserfc (maintained by the Authlib author, typed — mypy --strict —, covers RFC 7515/7517/
8037 and nothing we do not need); relying parties check with any other implementation (the tests use
jwcrypto and, optionally, npm ``jose``). joserfc 1.x warns that RFC 9864 deprecates the
polymorphic ``EdDSA`` name in favour of ``Ed25519``; the contract and the verifiers in the field
(jwcrypto, PyJWT, browsers' jose) speak ``EdDSA``, which with an OKP Ed25519 key is the same
algorithm, so that one warning is silenced where we sign, nowhere else.
"""

from __future__ import annotations

import base64
import json
import warnings
from collections.abc import Mapping
from typing import Any

import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from joserfc import jws
from joserfc.errors import SecurityWarning
from joserfc.jwk import OKPKey

from ecert.adapters.qr_token import kid_of

ALG = "EdDSA"
TYP = "ecert-attestation+jws"
MAX_RAW_PAYLOAD = 16 * 1024 * 1024


def _plain(value: Any) -> bool:
    """Whether ``value`` holds only what :func:`json.dumps` writes exactly as RFC 8785 does: objects with
    ASCII keys (sorted alike by code point and by UTF-16 unit), strings, integers in the range JSON
    numbers hold exactly, booleans, null — no float (RFC 8785 formats numbers as ECMAScript does)."""
    if value is None or isinstance(value, str | bool):
        return True
    if isinstance(value, int):
        return -(2**53) < value < 2**53
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and k.isascii() and _plain(v) for k, v in value.items())
    return False


def canonical(document: Mapping[str, Any]) -> bytes:
    """RFC 8785 canonical JSON of ``document`` (UTF-8). A document of only strings, integers, booleans
    and nulls under ASCII keys (attestations, roster reports) is written by :func:`json.dumps`, whose
    output is then the same bytes (a test holds them equal) and 20 times faster than the ``rfc8785``
    package on a 10,000-row roster; anything else goes through the package."""
    doc = dict(document)
    if _plain(doc):
        try:
            return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: the package says what it makes of it
            pass
    return rfc8785.dumps(doc)


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    """An Ed25519 public key as an OKP JWK (RFC 8037) with its ``kid``."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid_of(key), "use": "sig", "alg": ALG}


def jwks(keys: Mapping[str, Ed25519PublicKey]) -> dict[str, Any]:
    """The QR/attestation public keys, current and retired, as a JWK Set (RFC 7517), by kid."""
    return {"keys": [public_jwk(keys[kid]) for kid in sorted(keys)]}


class JwsSigner:
    """Signs documents as compact JWS under one Ed25519 key (the current QR key)."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self._key = OKPKey.import_key(pem)
        self.kid = kid_of(key.public_key())
        self._header = {"alg": ALG, "kid": self.kid, "typ": TYP}

    def sign(self, document: Mapping[str, Any]) -> str:
        """The compact JWS of ``document``'s RFC 8785 form (header ``alg``, ``kid``, ``typ``)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SecurityWarning)  # EdDSA per RFC 9864: module docstring
            return jws.serialize_compact(self._header, canonical(document), self._key, algorithms=[ALG])

    def sign_bytes(self, payload: bytes, header: Mapping[str, Any]) -> str:
        """The compact JWS of raw ``payload`` bytes under ``header`` (its ``alg`` and ``kid`` are this
        signer's): the status list (adapters/status_list.py), whose payload is binary."""
        head = {**header, "alg": ALG, "kid": self.kid}
        # Header parameters of our own (``issued_at``, ``next_update``) and a payload beyond joserfc's
        # default 128,000-byte cap (a list for a million certificates is about 170 KB).
        registry = jws.JWSRegistry(algorithms=[ALG], strict_check_header=False)
        registry.max_payload_length = MAX_RAW_PAYLOAD
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SecurityWarning)  # EdDSA per RFC 9864: module docstring
            return jws.serialize_compact(head, payload, self._key, registry=registry)
