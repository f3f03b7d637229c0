"""R-DOC-2: the DEMO PKI names the seal, and the seal key loads from PEM or PKCS#12 into a pyHanko signer."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ecert.adapters.signing import keys, pades, pki
from ecert.domain.certificate import ISSUER, SEAL_NAME
from helpers_signing import DRILL_TIME, load_cert, make_pdf

# cryptography warns when it parses a CN longer than 64 UTF-8 *bytes*; the seal name is 27 characters, 81 bytes
# (X.520's bound counts characters). See pki._name_attribute.
pytestmark = pytest.mark.filterwarnings("ignore:Attribute's length must be:UserWarning")


def _seal_cert(demo_pki: pki.DemoPki) -> x509.Certificate:
    return load_cert(demo_pki.seal_cert)


def test_demo_pki_files_and_key_modes__R_DOC_2(demo_pki: pki.DemoPki) -> None:
    for path in (demo_pki.root_cert, demo_pki.root_key, demo_pki.seal_cert, demo_pki.seal_key):
        assert path.exists() and path.parent == demo_pki.directory
    for key in (demo_pki.root_key, demo_pki.seal_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "NOT FOR PRODUCTION" in pki.DEMO_WARNING and "NOT FOR PRODUCTION" in (pki.__doc__ or "")


def test_seal_certificate_names_the_seal__R_DOC_2(demo_pki: pki.DemoPki) -> None:
    cert = _seal_cert(demo_pki)
    root = load_cert(demo_pki.root_cert)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == SEAL_NAME
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == ISSUER
    assert cert.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "CN"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "DEMO"
    assert "NOT FOR PRODUCTION" in root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert root.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == f"{ISSUER} (DEMO)"
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.content_commitment and not ku.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert pki.EKU_DOCUMENT_SIGNING in eku and ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    root_ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski.digest and aki.key_identifier == root_ski.digest
    cert.verify_directly_issued_by(root)
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_validity_covers_drills_on_past_dates__R_DATE_1(demo_pki: pki.DemoPki) -> None:
    cert = _seal_cert(demo_pki)
    assert cert.not_valid_before_utc == datetime(2020, 1, 1, tzinfo=UTC)
    assert cert.not_valid_after_utc == datetime(2040, 1, 1, tzinfo=UTC)
    assert cert.not_valid_before_utc <= DRILL_TIME <= cert.not_valid_after_utc


def test_demo_tsa_certificate(demo_pki: pki.DemoPki) -> None:
    tsa = pki.create_demo_tsa(demo_pki.directory)
    cert = load_cert(tsa.tsa_cert)
    assert isinstance(cert.public_key(), rsa.RSAPublicKey)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    cert.verify_directly_issued_by(load_cert(demo_pki.root_cert))
    assert stat.S_IMODE(tsa.tsa_key.stat().st_mode) == 0o600


def test_create_demo_tsa_needs_a_root(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        pki.create_demo_tsa(tmp_path)


def test_seal_key_config_requires_its_fields() -> None:
    with pytest.raises(ValueError, match="key_file"):
        keys.SealKeyConfig("pem", cert_file=Path("c.pem"))
    with pytest.raises(ValueError, match="pkcs11_module"):
        keys.SealKeyConfig("pkcs11", token_label="t", key_label="k")
    with pytest.raises(ValueError, match="token_label, key_label"):
        keys.SealKeyConfig.pkcs11(Path("/x.so"), "", "1234", "")
    with pytest.raises(ValueError, match="key_file"):
        keys.SealKeyConfig.pem(Path(""), Path("c.pem"))
    with pytest.raises(ValueError, match="unknown"):
        keys.SealKeyConfig("smartcard")  # type: ignore[arg-type]
    cfg = keys.SealKeyConfig.pkcs11(Path("/x.so"), "tok", "1234", "seal")
    assert "1234" not in repr(cfg)


def test_load_signer_from_pem__R_DOC_2(demo_pki: pki.DemoPki) -> None:
    signer = keys.load_signer(keys.SealKeyConfig.pem(demo_pki.seal_key, demo_pki.seal_cert, [demo_pki.root_cert]))
    assert signer.signing_cert.subject.native["common_name"] == SEAL_NAME
    signed = pades.sign_pdf(make_pdf(), signer, signing_time=DRILL_TIME)
    check = pades.validate_pdf(signed, trust_roots=[load_cert(demo_pki.root_cert)], moment=DRILL_TIME)
    assert check.ok, check.reasons


def test_load_signer_from_pkcs12__R_DOC_2(demo_pki: pki.DemoPki, tmp_path: Path) -> None:
    key = serialization.load_pem_private_key(demo_pki.seal_key.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    p12 = tmp_path / "seal.p12"
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"seal",
            key,
            _seal_cert(demo_pki),
            [load_cert(demo_pki.root_cert)],
            serialization.BestAvailableEncryption(b"s3cret"),
        )
    )
    signer = keys.load_signer(keys.SealKeyConfig.pkcs12(p12, b"s3cret"))
    signed = pades.sign_pdf(make_pdf(), signer, signing_time=DRILL_TIME)
    check = pades.validate_pdf(signed, trust_roots=[load_cert(demo_pki.root_cert)], moment=DRILL_TIME)
    assert check.ok and check.signer_cn == SEAL_NAME, check.reasons
    with pytest.raises(keys.SealKeyError, match="wrong password"):
        keys.load_signer(keys.SealKeyConfig.pkcs12(p12, b"nope"))


def test_load_signer_errors_name_the_file_not_the_secret(demo_pki: pki.DemoPki, tmp_path: Path) -> None:
    with pytest.raises(keys.SealKeyError, match=r"missing\.pem"):
        keys.load_signer(keys.SealKeyConfig.pem(tmp_path / "missing.pem", demo_pki.seal_cert))
    other = pki.create_demo_pki(tmp_path / "other")
    with pytest.raises(keys.SealKeyError, match="does not belong"):
        keys.load_signer(keys.SealKeyConfig.pem(other.seal_key, demo_pki.seal_cert))
    with pytest.raises(keys.SealKeyError, match="PKCS#11 module"):
        keys.load_signer(keys.SealKeyConfig.pkcs11(tmp_path / "nope.so", "tok", "1234", "seal"))


def test_open_signer_context_manager(demo_pki: pki.DemoPki) -> None:
    with keys.open_signer(keys.SealKeyConfig.pem(demo_pki.seal_key, demo_pki.seal_cert)) as signer:
        assert keys.signer_certificate(signer).subject.native["common_name"] == SEAL_NAME
