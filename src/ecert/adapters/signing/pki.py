"""DEMO PKI for the seal signature (R-DOC-2) — **NOT FOR PRODUCTION**.

Everything here makes throwaway keys and certificates so that development, drills and tests can produce
a real PAdES signature whose signer certificate names the seal 中华人民共和国住房和城乡建设部一级建造师行政许可专用章.
The root, its key and the seal key are written to disk unencrypted (mode 0600). A relying party must never
be asked to trust this root; production uses a seal certificate issued by the real authority's CA, with the
key in an HSM (see :mod:`ecert.adapters.signing.keys`).

Files written by :func:`create_demo_pki` into its directory: ``root-cert.pem``, ``root-key.pem``,
``seal-cert.pem``, ``seal-key.pem``; by :func:`create_demo_tsa`: ``tsa-cert.pem``, ``tsa-key.pem``.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes, CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ecert.domain.certificate import ISSUER, SEAL_NAME

DEMO_WARNING = (
    "DEMO KEYS — NOT FOR PRODUCTION: this PKI (root CA, seal key, TSA key; the OFD's SM2 root and seal) "
    "is generated locally for development, drills and tests; its private keys sit unencrypted on disk "
    "and nobody should trust its root."
)

ROOT_CN = "ecert DEMO Root CA — NOT FOR PRODUCTION"
ROOT_O = f"{ISSUER} (DEMO)"
DEMO_OU = "DEMO"
DEFAULT_NOT_BEFORE = datetime(2020, 1, 1, tzinfo=UTC)

Issuer = tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes]  # a CA's certificate and its key
Validity = tuple[datetime, datetime]  # not before, not after (aware)

# RFC 9336 id-kp-documentSigning: the purpose made for document signatures. emailProtection is listed too
# because NSS (poppler's pdfsig, Firefox/Thunderbird) checks signer certificates for the S/MIME
# "email signer" usage and rejects a certificate whose EKU lacks emailProtection (see the test notes).
EKU_DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")
SEAL_EKUS: tuple[x509.ObjectIdentifier, ...] = (EKU_DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION)

ROOT_CERT = "root-cert.pem"
ROOT_KEY = "root-key.pem"
SEAL_CERT = "seal-cert.pem"
SEAL_KEY = "seal-key.pem"
TSA_CERT = "tsa-cert.pem"
TSA_KEY = "tsa-key.pem"


@dataclass(frozen=True, slots=True)
class DemoPki:
    """Paths of a DEMO PKI (see :data:`DEMO_WARNING`)."""

    directory: Path
    root_cert: Path
    root_key: Path
    seal_cert: Path
    seal_key: Path
    not_before: datetime
    not_after: datetime


@dataclass(frozen=True, slots=True)
class DemoTsa:
    """Paths of a DEMO time-stamping authority certificate and its RSA key (see :data:`DEMO_WARNING`)."""

    directory: Path
    root_cert: Path
    tsa_cert: Path
    tsa_key: Path


def _name_attribute(oid: x509.ObjectIdentifier, value: str) -> x509.NameAttribute[str]:
    """A UTF8String name attribute. X.520's upper bound (ub-common-name = 64 etc.) counts *characters*;
    cryptography counts UTF-8 *bytes* and so rejects the 27-character seal name (81 bytes). Check
    characters ourselves and let cryptography merely warn about bytes."""
    if not 1 <= len(value) <= 64:
        raise ValueError(f"name attribute must be 1..64 characters, got {len(value)}: {value!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return x509.NameAttribute(oid, value, _validate=False)


def _demo_name(organization: str, common_name: str) -> x509.Name:
    """C=CN, O=<organization>, OU=DEMO, CN=<common name>: every name of the DEMO PKI."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            _name_attribute(NameOID.ORGANIZATION_NAME, organization),
            _name_attribute(NameOID.ORGANIZATIONAL_UNIT_NAME, DEMO_OU),
            _name_attribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def seal_subject(common_name: str = SEAL_NAME) -> x509.Name:
    """C=CN, O=中华人民共和国住房和城乡建设部, OU=DEMO, CN=<seal name>."""
    return _demo_name(ISSUER, common_name)


def is_demo_certificate(cert: x509.Certificate) -> bool:
    """Whether ``cert`` comes from a DEMO PKI: it, or the CA that issued it, is named OU=DEMO
    (:func:`seal_subject`, the DEMO root). Certificates sealed with such a key carry the DEMO mark."""
    with warnings.catch_warnings():  # the seal's 27-character CN is 81 UTF-8 bytes (see _name_attribute)
        warnings.simplefilter("ignore", UserWarning)
        names = (cert.subject, cert.issuer)
    return any(
        attr.value == DEMO_OU
        for name in names
        for attr in name.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    )


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by the owner only (0600 from the moment it exists)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)


def key_pem(key: CertificateIssuerPrivateKeyTypes) -> bytes:
    """``key`` as unencrypted PKCS#8 PEM."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _validity(not_before: datetime, years: int) -> Validity:
    if not_before.tzinfo is None:
        raise ValueError("not_before must be timezone-aware")
    if years < 1:
        raise ValueError("years must be >= 1")
    start = not_before.astimezone(UTC)
    try:
        end = start.replace(year=start.year + years)
    except ValueError:  # 29 February
        end = start.replace(year=start.year + years, day=28)
    return start, end


def certificate_builder(
    subject: x509.Name, issuer: x509.Name, public_key: CertificatePublicKeyTypes, validity: Validity
) -> x509.CertificateBuilder:
    """What every certificate has: its subject and issuer names, its public key, a random serial number and
    its validity (``issuer`` = ``subject`` for a self-signed one). The caller adds the extensions and signs."""
    not_before, not_after = validity
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )


def _key_usage(
    *, signs_documents: bool = False, content_commitment: bool = False, signs_certificates: bool = False
) -> x509.KeyUsage:
    """The key usage of a signer (digitalSignature, with nonRepudiation when ``content_commitment``) or of a CA
    (keyCertSign and cRLSign); no other bit is set."""
    return x509.KeyUsage(
        digital_signature=signs_documents,
        content_commitment=content_commitment,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def _make_root(validity: Validity) -> Issuer:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _demo_name(ROOT_O, ROOT_CN)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        certificate_builder(name, name, key.public_key(), validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signs_certificates=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def issue_certificate(
    issuer: Issuer,
    public_key: CertificatePublicKeyTypes,
    subject: x509.Name,
    ekus: tuple[x509.ObjectIdentifier, ...],
    *,
    validity: Validity | None = None,
    eku_critical: bool = False,
    content_commitment: bool = True,
) -> x509.Certificate:
    """Issue an end-entity certificate (digitalSignature [+ nonRepudiation], the given EKUs, AKI/SKI) signed by
    ``issuer`` (its certificate and key), valid for ``validity`` (default: as long as the issuer's certificate)."""
    issuer_cert, issuer_key = issuer
    if validity is None:
        validity = issuer_cert.not_valid_before_utc, issuer_cert.not_valid_after_utc
    ski = x509.SubjectKeyIdentifier.from_public_key(public_key)
    issuer_ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        certificate_builder(subject, issuer_cert.subject, public_key, validity)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signs_documents=True, content_commitment=content_commitment), critical=True)
        .add_extension(x509.ExtendedKeyUsage(list(ekus)), critical=eku_critical)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )


def load_demo_root(directory: Path) -> Issuer:
    cert_path, key_path = directory / ROOT_CERT, directory / ROOT_KEY
    if not cert_path.exists() or not key_path.exists():
        raise FileNotFoundError(f"no DEMO root in {directory} (run create_demo_pki first)")
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError(f"unsupported DEMO root key type {type(key).__name__}")
    return cert, key


def issue_demo_seal_certificate(
    directory: Path,
    public_key: CertificatePublicKeyTypes,
    *,
    not_before: datetime = DEFAULT_NOT_BEFORE,
    years: int = 20,
    common_name: str = SEAL_NAME,
) -> x509.Certificate:
    """Issue a DEMO seal certificate for a key held elsewhere (e.g. generated on a PKCS#11 token) from the
    DEMO root in ``directory``. Returns the certificate; nothing is written."""
    root = load_demo_root(directory)
    start, end = _validity(not_before, years)
    validity = max(start, root[0].not_valid_before_utc), min(end, root[0].not_valid_after_utc)
    return issue_certificate(root, public_key, seal_subject(common_name), SEAL_EKUS, validity=validity)


def create_demo_pki(directory: Path, *, not_before: datetime = DEFAULT_NOT_BEFORE, years: int = 20) -> DemoPki:
    """Create a DEMO root CA and an EC P-256 seal key + certificate in ``directory`` (see :data:`DEMO_WARNING`).

    Default validity 2020-01-01 … 2040-01-01 UTC, so drills on past dates (ECERT_TODAY=2021-03-01) sign and
    validate with certificates that were valid then. Existing files are overwritten."""
    start, end = _validity(not_before, years)
    directory.mkdir(parents=True, exist_ok=True)
    root_cert, root_key = root = _make_root((start, end))
    seal_key = ec.generate_private_key(ec.SECP256R1())
    seal_cert = issue_certificate(root, seal_key.public_key(), seal_subject(), SEAL_EKUS)
    pki = DemoPki(
        directory=directory,
        root_cert=directory / ROOT_CERT,
        root_key=directory / ROOT_KEY,
        seal_cert=directory / SEAL_CERT,
        seal_key=directory / SEAL_KEY,
        not_before=start,
        not_after=end,
    )
    _write_private(pki.root_key, key_pem(root_key))
    _write_private(pki.seal_key, key_pem(seal_key))
    pki.root_cert.write_bytes(cert_pem(root_cert))
    pki.seal_cert.write_bytes(cert_pem(seal_cert))
    return pki


def create_demo_tsa(directory: Path) -> DemoTsa:
    """Create a DEMO RSA-2048 time-stamping certificate (EKU timeStamping, critical) under the DEMO root in
    ``directory`` — pyHanko's DummyTimeStamper signs with RSA only. For tests and drills (see :data:`DEMO_WARNING`)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = issue_certificate(
        load_demo_root(directory),
        key.public_key(),
        _demo_name(ROOT_O, "ecert DEMO TSA — NOT FOR PRODUCTION"),
        (ExtendedKeyUsageOID.TIME_STAMPING,),
        eku_critical=True,
        content_commitment=False,
    )
    tsa = DemoTsa(
        directory=directory,
        root_cert=directory / ROOT_CERT,
        tsa_cert=directory / TSA_CERT,
        tsa_key=directory / TSA_KEY,
    )
    _write_private(tsa.tsa_key, key_pem(key))
    tsa.tsa_cert.write_bytes(cert_pem(cert))
    return tsa
