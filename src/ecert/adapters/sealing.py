"""Concrete document services for the issuance and verification use cases: the PAdES sealer, the
QR token signer and the PDF signature checker, over adapters.signing and adapters.qr_token; and the
national format's OFD maker and checker (R-DOC-6), over adapters.documents.ofd_render and
adapters.signing.ofd_seal."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pyhanko.sign.signers import Signer, SimpleSigner

from ecert.adapters import qr_token
from ecert.adapters.documents.fonts import FontSet
from ecert.adapters.documents.ofd_render import ofd_files
from ecert.adapters.documents.page import prepare_inputs
from ecert.adapters.signing import ses
from ecert.adapters.signing.fast_pades import FastPadesSigner, FastSealError
from ecert.adapters.signing.fast_verify import FastSealVerifier
from ecert.adapters.signing.keys import signer_certificate
from ecert.adapters.signing.ofd_seal import OfdSealer, OfdSealVerifier, custom_data
from ecert.adapters.signing.pades import SealSigner, seal_verdict_check
from ecert.adapters.signing.sm2 import Sm2Key, load_certificate
from ecert.domain.certificate import CertificateContent
from ecert.domain.verification import DocumentCheck, SignatureVerdict


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
    """The seal (R-DOC-2): PAdES B-B through :class:`FastPadesSigner` when the key is in memory and the
    profile is B-B; otherwise (PKCS#11, B-T, B-LT, B-LTA: ECERT_SEAL_PROFILE) pyHanko's :class:`SealSigner`,
    time-stamped by ``timestamper`` (or the TSA at ``tsa_url``)."""

    signer: Signer
    tsa_url: str | None = None
    fast: bool = True
    timestamper: Any = None
    profile: str | None = None  # None: B-T with a TSA, else B-B
    trust_roots: list[x509.Certificate] = field(default_factory=list)
    crls: list[bytes] = field(default_factory=list)
    key_id: str = field(init=False)

    def __post_init__(self) -> None:
        self.key_id = hashlib.sha256(signer_certificate(self.signer).dump()).hexdigest()
        self._pyhanko = SealSigner(
            self.signer,
            tsa_url=self.tsa_url,
            timestamper=self.timestamper,
            profile=self.profile,
            trust_roots=self.trust_roots,
            crls=self.crls,
        )
        self._fast = fast_signer_for(self.signer) if self.fast and self._pyhanko.profile == "B-B" else None

    @property
    def profile_in_use(self) -> str:
        return self._pyhanko.profile

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
    """The seal check of ``verify``: pyHanko's validation (:func:`validate_pdf`), except that a seal in ecert's
    own layout whose certificates pyHanko already found trusted is checked directly (:mod:`.fast_verify`: the
    same verdict, 20x faster). One instance per process: it keeps the trust roots converted and what it learned."""

    roots: list[x509.Certificate]

    def __post_init__(self) -> None:
        # Converted once: pyHanko wants asn1crypto certificates, and the roots never change in a process.
        self._roots = [asn1_x509.Certificate.load(r.public_bytes(serialization.Encoding.DER)) for r in self.roots]
        self._fast = FastSealVerifier()

    def __call__(self, pdf: bytes, moment: datetime) -> SignatureVerdict:
        if not pdf[:1024].lstrip().startswith(b"%PDF"):
            return SignatureVerdict(readable=False, signed=False, intact=False, trusted=False,
                                    modified_after_signing=False)  # fmt: skip
        if self._fast.check(pdf, moment):
            return SignatureVerdict(readable=True, signed=True, intact=True, trusted=True,
                                    modified_after_signing=False)  # fmt: skip
        check = seal_verdict_check(pdf, trust_roots=self._roots, moment=moment)
        if check.ok:
            self._fast.learn(pdf, list(check.validation_path))
        # A file pyHanko cannot parse is unreadable, whatever its header says; one it parses without a signature
        # (never sealed, or the signature unlinked from the form) is unsigned.
        return SignatureVerdict(
            readable=check.readable,
            signed=check.signed,
            intact=check.intact and check.valid,
            trusted=check.trusted,
            modified_after_signing=check.modified_after_signing,
            appended_after_signing=check.appended,
        )


@dataclass
class OfdMaker:
    """The certificate as a sealed OFD (R-DOC-6): the page painted by :func:`.ofd_render.ofd_files` with
    the seal's own picture, sealed SM2/SM3 (:class:`.ofd_seal.OfdSealer`), zipped once."""

    sealer: OfdSealer
    fonts: FontSet
    demo: bool = False
    key_id: str = field(init=False)

    def __post_init__(self) -> None:
        self.key_id = hashlib.sha256(self.sealer.cert.dump()).hexdigest()
        self._picture = bytes(self.sealer.seal["eseal_info"]["picture"]["data"])

    @classmethod
    def from_files(
        cls,
        key_pem: bytes,
        cert: bytes,
        seal_der: bytes,
        fonts: FontSet,
        *,
        demo: bool,
        stamp: Callable[[bytes], bytes] | None = None,
    ) -> OfdMaker:
        """From the configured files (``ValueError`` naming what is wrong: not SM2, not a seal, the seal
        not made for this certificate)."""
        key, certificate = Sm2Key.from_pem(key_pem), load_certificate(cert)
        try:
            seal = ses.SESeal.load(seal_der, strict=True)
            allowed = [c.native for c in seal["eseal_info"]["property"]["cert_list"]]
        except Exception as exc:  # whatever asn1crypto raises on bad DER
            raise ValueError("the SM2 seal file is not a GB/T 38540 SESeal (DER)") from exc
        if certificate.dump() not in allowed:
            raise ValueError("the SM2 seal was not made for the SM2 seal certificate")
        return cls(OfdSealer(key, certificate, seal, stamp), fonts, demo)

    def make(
        self,
        content: CertificateContent,
        *,
        qr_text: str,
        signature_image: bytes,
        photo: bytes | None,
        metadata: dict[str, str],
        signing_time: datetime,
    ) -> bytes:
        signature, portrait = prepare_inputs(content, signature_image, photo, self.fonts)
        files = ofd_files(
            content, qr_text, signature, portrait, self.fonts, metadata, demo=self.demo, seal_png=self._picture
        )
        return self.sealer.seal_files(files, signing_time)


@dataclass
class OfdChecker:
    """The seal check of an OFD certificate against the SM2 roots, with the certificate data the sealed
    package carries (``OFD.xml``'s ``CustomData``, covered by the seal's digests)."""

    roots: list[asn1_x509.Certificate]
    tsa_roots: list[x509.Certificate] = field(default_factory=list)  # the PDF's roots: they vouch for the TSA

    def __post_init__(self) -> None:
        tsa = [asn1_x509.Certificate.load(r.public_bytes(serialization.Encoding.DER)) for r in self.tsa_roots]
        self._verifier = OfdSealVerifier(self.roots, tsa)

    def __call__(self, package: bytes, moment: datetime) -> DocumentCheck:
        check = self._verifier.check(package, moment)
        metadata = custom_data(check.files) if check.files is not None and check.verdict.trusted else None
        return DocumentCheck(check.verdict, check.problem, metadata)
