"""Concrete document services for the issuance and verification use cases: the PAdES sealer, the
QR token signer and the PDF signature checker, over adapters.signing and adapters.qr_token."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pyhanko.sign.signers import Signer, SimpleSigner

from ecert.adapters import qr_token
from ecert.adapters.signing.fast_pades import FastPadesSigner, FastSealError
from ecert.adapters.signing.keys import signer_certificate
from ecert.adapters.signing.pades import SealSigner, validate_pdf
from ecert.services.verification import SignatureVerdict


def fast_signer_for(signer: Signer) -> FastPadesSigner | None:
    """The fast path applies to a key held in memory (PEM or PKCS#12 file); a PKCS#11 token signs
    through pyHanko, where the key never leaves the token."""
    if not isinstance(signer, SimpleSigner) or signer.signing_key is None:
        return None
    key = serialization.load_der_private_key(signer.signing_key.dump(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        return None
    return FastPadesSigner(key, signer_certificate(signer), list(signer.cert_registry))


@dataclass
class PadesSealer:
    """The seal (R-DOC-2): PAdES B-B through :class:`FastPadesSigner` when the key is in memory and
    no time-stamp authority is configured; otherwise (PKCS#11, B-T) pyHanko's :class:`SealSigner`."""

    signer: Signer
    tsa_url: str | None = None
    fast: bool = True
    key_id: str = field(init=False)

    def __post_init__(self) -> None:
        self.key_id = hashlib.sha256(signer_certificate(self.signer).dump()).hexdigest()
        self._pyhanko = SealSigner(self.signer, tsa_url=self.tsa_url)
        self._fast = fast_signer_for(self.signer) if self.fast and self.tsa_url is None else None

    @property
    def path(self) -> str:
        return "fast" if self._fast is not None else "pyhanko"

    def seal(self, pdf: bytes, signing_time: datetime) -> bytes:
        if self._fast is not None:
            try:
                return self._fast.sign(pdf, signing_time=signing_time)
            except FastSealError:
                pass  # a document shaped otherwise: pyHanko handles any PDF
        return self._pyhanko.sign(pdf, signing_time=signing_time)


@dataclass
class Ed25519QrSigner:
    key: Ed25519PrivateKey
    base_url: str
    kid: str = field(init=False)

    def __post_init__(self) -> None:
        self.kid = qr_token.kid_of(self.key.public_key())

    def token(self, serial: str, registration_no: str, usage_from: date, usage_until: date, digest: bytes) -> str:
        return qr_token.encode(serial, registration_no, usage_from, usage_until, digest, self.key)

    def url(self, token: str) -> str:
        return qr_token.token_url(self.base_url, token)


@dataclass
class PdfSignatureChecker:
    roots: list[x509.Certificate]

    def __call__(self, pdf: bytes, moment: datetime) -> SignatureVerdict:
        check = validate_pdf(pdf, trust_roots=self.roots, moment=moment)
        readable = pdf[:1024].lstrip().startswith(b"%PDF")
        return SignatureVerdict(
            readable=readable,
            signed=check.signed or (readable and b"/ByteRange" in pdf),
            intact=check.intact and check.valid,
            trusted=check.trusted,
            modified_after_signing=check.modified_after_signing,
        )
