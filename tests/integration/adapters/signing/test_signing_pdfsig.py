"""R-DOC-2, independent check: poppler's ``pdfsig`` (NSS) accepts the seal signature made by our adapter —
B-B and B-T — and rejects it after one byte of the signed content changes. pdfsig validates the certificate at
the real current time; the DEMO PKI covers 2020–2040."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from pyhanko.sign.signers import Signer

from ecert.adapters.signing import keys, pades, pki
from ecert.adapters.signing.tsa import local_tsa
from ecert.domain.certificate import SEAL_NAME
from helpers_signing import (
    DRILL_TIME,
    byte_ranges,
    content_offset,
    flip_byte,
    have_pdfsig,
    load_cert,
    make_nss_db,
    make_pdf,
    pdfsig,
)

# The tools are installed by scripts/setup: a missing one is a failure, not a skip.
assert have_pdfsig(), "poppler-utils (pdfsig) / libnss3-tools (certutil) missing: run scripts/setup"


@pytest.fixture(scope="module")
def signer(demo_pki: pki.DemoPki) -> Signer:
    return keys.load_signer(keys.SealKeyConfig.pem(demo_pki.seal_key, demo_pki.seal_cert, [demo_pki.root_cert]))


@pytest.fixture(scope="module")
def nss(demo_pki: pki.DemoPki, tmp_path_factory: pytest.TempPathFactory) -> str:
    return make_nss_db(tmp_path_factory.mktemp("nss"), demo_pki.root_cert)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_pdfsig_accepts_the_seal_signature__R_DOC_2(signer: Signer, nss: str, tmp_path: Path) -> None:
    signed = pades.sign_pdf(make_pdf(), signer, signing_time=DRILL_TIME)
    out = pdfsig(nss, _write(tmp_path, "sealed.pdf", signed))
    assert "Signature is Valid" in out, out
    assert "Certificate is Trusted" in out, out
    assert f"Signer Certificate Common Name: {SEAL_NAME}" in out
    assert "ETSI.CAdES.detached" in out
    assert "Total document signed" in out
    # pdfsig prints /M — the app clock of the drill, not the wall clock (R-DATE-1)
    assert "Signing Time: Mar 01 2021" in out, out


def test_pdfsig_rejects_a_flipped_byte__R_DOC_2(signer: Signer, nss: str, tmp_path: Path) -> None:
    signed = pades.sign_pdf(make_pdf(), signer, signing_time=DRILL_TIME)
    out = pdfsig(nss, _write(tmp_path, "tampered.pdf", flip_byte(signed, content_offset(signed))))
    assert "Signature is Valid" not in out, out
    assert "Digest Mismatch" in out or "Signature is Invalid" in out, out


def test_pdfsig_does_not_trust_another_root__R_DOC_2(
    signer: Signer, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    other = pki.create_demo_pki(tmp_path_factory.mktemp("other"))
    nss_other = make_nss_db(tmp_path / "nss-other", other.root_cert)
    signed = pades.sign_pdf(make_pdf(), signer, signing_time=DRILL_TIME)
    out = pdfsig(nss_other, _write(tmp_path, "sealed.pdf", signed))
    assert "Signature is Valid" in out and "Certificate is Trusted" not in out, out


def test_b_t_with_local_tsa__R_DOC_2(
    signer: Signer, demo_root: x509.Certificate, demo_pki: pki.DemoPki, nss: str, tmp_path: Path
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    with local_tsa(demo_pki.directory) as url:
        signed = pades.sign_pdf(make_pdf(), signer, signing_time=DRILL_TIME, tsa_url=url)
    check = pades.validate_pdf(signed, trust_roots=[demo_root], moment=datetime.now(UTC))
    assert check.ok, check.reasons
    assert check.timestamp_time is not None and check.timestamp_time >= before  # the TSA's own (real) clock
    assert check.signing_time == DRILL_TIME
    out = pdfsig(nss, _write(tmp_path, "sealed-bt.pdf", signed))
    assert "Signature is Valid" in out and "Certificate is Trusted" in out, out


def test_b_t_drill_with_a_pinned_tsa_clock__R_DATE_1(
    signer: Signer, demo_root: x509.Certificate, demo_pki: pki.DemoPki
) -> None:
    with local_tsa(demo_pki.directory, clock=lambda: DRILL_TIME + timedelta(seconds=2)) as url:
        seal = pades.SealSigner(signer, tsa_url=url)
        assert seal.level == "B-T"
        signed = seal.sign(make_pdf(), signing_time=DRILL_TIME)
    check = pades.validate_pdf(signed, trust_roots=[demo_root], moment=DRILL_TIME + timedelta(minutes=5))
    assert check.ok and check.timestamp_time == DRILL_TIME + timedelta(seconds=2), check.reasons
    # the time-stamp token fits the pre-sized /Contents (no trial signature, no second TSA request)
    start1, len1, start2, _ = byte_ranges(signed)
    assert start2 - (start1 + len1) == seal.bytes_reserved + 2


def test_b_t_timestamp_from_an_untrusted_tsa(
    signer: Signer, demo_root: x509.Certificate, tmp_path_factory: pytest.TempPathFactory
) -> None:
    rogue = pki.create_demo_pki(tmp_path_factory.mktemp("rogue-tsa"))
    with local_tsa(rogue.directory) as url:
        signed = pades.sign_pdf(make_pdf(), signer, signing_time=DRILL_TIME, tsa_url=url)
    check = pades.validate_pdf(signed, trust_roots=[demo_root], moment=datetime.now(UTC))
    assert check.intact and check.valid and not check.trusted
    assert any("time-stamp" in r for r in check.reasons)


def test_local_tsa_rejects_garbage(demo_pki: pki.DemoPki) -> None:
    import urllib.error
    import urllib.request

    with local_tsa(demo_pki.directory) as url:
        req = urllib.request.Request(url, data=b"not a tsq", headers={"Content-Type": "application/timestamp-query"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=5)
        assert err.value.code == 400


def test_why_the_seal_cert_also_has_email_protection(demo_pki: pki.DemoPki, nss: str, tmp_path: Path) -> None:
    """NSS checks PDF signers for the S/MIME signer usage: with id-kp-documentSigning (RFC 9336) alone, pdfsig
    says "Unknown issue with Certificate"; SEAL_EKUS therefore lists emailProtection as well."""
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    cert = pki.issue_certificate(
        pki.load_demo_root(demo_pki.directory), key.public_key(), pki.seal_subject(), (pki.EKU_DOCUMENT_SIGNING,)
    )
    key_path, cert_path = tmp_path / "k.pem", tmp_path / "c.pem"
    key_path.write_bytes(pki.key_pem(key))
    cert_path.write_bytes(pki.cert_pem(cert))
    doc_only = keys.load_signer(keys.SealKeyConfig.pem(key_path, cert_path, [demo_pki.root_cert]))
    signed = pades.sign_pdf(make_pdf(), doc_only, signing_time=DRILL_TIME)
    out = pdfsig(nss, _write(tmp_path, "doc-eku-only.pdf", signed))
    assert "Signature is Valid" in out and "Certificate is Trusted" not in out, out
    # pyHanko has no such rule: the document-signing-only certificate validates there
    assert pades.validate_pdf(signed, trust_roots=[load_cert(demo_pki.root_cert)], moment=DRILL_TIME).ok
