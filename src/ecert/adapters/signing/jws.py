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


class _NotPlain(Exception):
    """Raised while re-reading :func:`json.dumps`'s output: it holds something RFC 8785 writes otherwise."""


def _no_float(text: str) -> Any:
    raise _NotPlain(text)  # RFC 8785 formats numbers as ECMAScript does


def _exact_int(text: str) -> int:
    value = int(text)
    if not -(2**53) < value < 2**53:  # beyond what an IEEE double holds exactly
        raise _NotPlain(text)
    return value


def _ascii_keys(pairs: list[tuple[str, Any]]) -> None:
    if not all(k.isascii() for k, _ in pairs):  # sorted alike by code point and by UTF-16 unit
        raise _NotPlain("key")


def canonical(document: Mapping[str, Any]) -> bytes:
    """RFC 8785 canonical JSON of ``document`` (UTF-8). :func:`json.dumps` (sorted keys, no spaces, no
    ASCII escaping) writes exactly the RFC's bytes for JSON of strings, integers in the range a double
    holds exactly, booleans and nulls under ASCII keys — attestations, roster reports — and is 20 times
    faster than the ``rfc8785`` package on a 10,000-row roster; its output is read back by the C parser
    to make sure that is all it holds (a float, a larger integer or a non-ASCII key goes through the
    package instead; a test holds the two equal)."""
    doc = dict(document)
    try:
        text = json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
        json.loads(text, parse_float=_no_float, parse_int=_exact_int, object_pairs_hook=_ascii_keys)
        return text.encode("utf-8")
    except (_NotPlain, TypeError, ValueError, UnicodeEncodeError):  # the package says what it makes of it
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
