"""Concrete document services for the issuance and verification use cases: the PAdES sealer, the
QR token signer and the PDF signature checker, over adapters.signing and adapters.qr_token."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pyhanko.sign.signers import Signer

from ecert.adapters import qr_token
from ecert.adapters.signing.keys import signer_certificate
from ecert.adapters.signing.pades import sign_pdf, validate_pdf
from ecert.services.verification import SignatureVerdict


@dataclass
class PadesSealer:
    signer: Signer
    tsa_url: str | None = None
    key_id: str = field(init=False)

    def __post_init__(self) -> None:
        self.key_id = hashlib.sha256(signer_certificate(self.signer).dump()).hexdigest()

    def seal(self, pdf: bytes, signing_time: datetime) -> bytes:
        return sign_pdf(pdf, self.signer, signing_time=signing_time, tsa_url=self.tsa_url)


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
