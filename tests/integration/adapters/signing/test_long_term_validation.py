"""R-DOC-2, issue 16 §2: a sealed PDF outlives its seal certificate. A seal made while its certificate was valid
and time-stamped (B-T, B-LT, B-LTA) is judged at the time the time-stamp proves it existed: still trusted after
the certificate has ended or been revoked at a key rotation. A file without a time-stamp behaves as before
(untrusted once the certificate has ended). The archival update (a new document time-stamp with the validation
data in the DSS) keeps the proof going; poppler's ``pdfsig`` still reads every signature of such a file.

The TSA is the DEMO TSA in-process (adapters/signing/tsa.py ``demo_timestamper``) on a pinned clock: no network.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.signers import Signer

from ecert.adapters.signing import archival, keys, pades, pki
from ecert.adapters.signing.tsa import DemoTimeStamper, demo_timestamper
from helpers_signing import load_cert, make_nss_db, make_pdf, pdfsig

SEALED = datetime(2021, 3, 1, 1, 30, tzinfo=UTC)  # the seal and its time-stamp
CERT_END = datetime(2021, 12, 31, tzinfo=UTC)  # the seal certificate ends …
LATER = datetime(2023, 6, 1, tzinfo=UTC)  # … and the file is checked long after
ROTATED = datetime(2021, 6, 1, tzinfo=UTC)  # the key rotation: the old certificate revoked (superseded)
CRL_URL = "http://crl.demo.invalid/root.crl"  # named in the certificate; never fetched


@dataclass
class Pki:
    root: x509.Certificate
    signer: Signer
    seal_cert: x509.Certificate
    directory: Path
    clock: list[datetime]
    stamper: DemoTimeStamper

    def crl_revoking_the_seal(self, at: datetime) -> bytes:
        """The root's CRL: the seal certificate revoked at ``at`` (superseded: the key was rotated)."""
        root, root_key = pki.load_demo_root(self.directory)
        revoked = (
            x509.RevokedCertificateBuilder()
            .serial_number(self.seal_cert.serial_number)
            .revocation_date(at)
            .add_extension(x509.CRLReason(x509.ReasonFlags.superseded), critical=False)
            .build()
        )
        crl = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(root.subject)
            .last_update(at)
            .next_update(at + timedelta(days=3650))
            .add_revoked_certificate(revoked)
            .sign(root_key, hashes.SHA256())
        )
        return crl.public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def short(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A DEMO root (2020–2040), a DEMO TSA under it, and a seal certificate valid in 2021 only that names a CRL."""
    made = pki.create_demo_pki(tmp_path_factory.mktemp("ltv-pki"))
    root = pki.load_demo_root(made.directory)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = pki.issue_certificate(
        root, key.public_key(), pki.seal_subject(), pki.SEAL_EKUS, validity=(datetime(2021, 1, 1, tzinfo=UTC), CERT_END)
    )
    # the same certificate with a CRL distribution point, so that revocation is checked (pyHanko: "if declared")
    builder = pki.certificate_builder(
        cert.subject, cert.issuer, key.public_key(), (cert.not_valid_before_utc, CERT_END)
    )
    for ext in cert.extensions:
        builder = builder.add_extension(ext.value, critical=ext.critical)
    point = x509.DistributionPoint([x509.UniformResourceIdentifier(CRL_URL)], None, None, None)
    cert = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False).sign(root[1], hashes.SHA256())
    (made.directory / "short-key.pem").write_bytes(pki.key_pem(key))
    (made.directory / "short-cert.pem").write_bytes(pki.cert_pem(cert))
    signer = keys.load_signer(
        keys.SealKeyConfig.pem(made.directory / "short-key.pem", made.directory / "short-cert.pem", [made.root_cert])
    )
    clock = [SEALED]
    stamper = demo_timestamper(made.directory, clock=lambda: clock[0])
    return Pki(load_cert(made.root_cert), signer, cert, made.directory, clock, stamper)


@pytest.fixture
def at(short: Pki) -> Iterator[list[datetime]]:
    """The TSA's clock, put back to the sealing time after each test."""
    yield short.clock
    short.clock[0] = SEALED


def _seal(short: Pki, profile: str) -> bytes:
    stamper = None if profile == "B-B" else short.stamper
    seal = pades.SealSigner(short.signer, timestamper=stamper, profile=profile, trust_roots=[short.root])
    return seal.sign(make_pdf(), signing_time=SEALED)


@pytest.fixture(scope="module")
def sealed(short: Pki) -> dict[str, bytes]:
    return {profile: _seal(short, profile) for profile in pades.PROFILES}


def _check(short: Pki, pdf: bytes, moment: datetime) -> pades.SignatureCheck:
    return pades.validate_pdf(pdf, trust_roots=[short.root], moment=moment)


def test_every_time_stamped_profile_stays_trusted_after_the_seal_certificate_ends__R_DOC_2(
    short: Pki, sealed: dict[str, bytes]
) -> None:
    for profile in ("B-T", "B-LT", "B-LTA"):
        check = _check(short, sealed[profile], LATER)
        assert check.ok, (profile, check.reasons)
        assert check.trusted_at == SEALED and check.timestamp_time == SEALED, profile
        assert _check(short, sealed[profile], SEALED + timedelta(days=1)).trusted_at is None  # trusted that day


def test_a_seal_without_a_time_stamp_is_untrusted_after_the_certificate_ends_as_before(
    short: Pki, sealed: dict[str, bytes]
) -> None:
    assert _check(short, sealed["B-B"], SEALED + timedelta(days=1)).ok
    check = _check(short, sealed["B-B"], LATER)
    assert check.intact and check.valid and not check.trusted and check.trusted_at is None
    assert any("not trusted" in r for r in check.reasons)


def test_the_profiles_embed_what_they_promise__R_DOC_2(sealed: dict[str, bytes]) -> None:
    for profile, pdf in sealed.items():
        reader = PdfFileReader(io.BytesIO(pdf))
        unsigned = reader.embedded_regular_signatures[0].signer_info["unsigned_attrs"]
        kinds = {a["type"].native for a in unsigned} if unsigned else set()
        assert ("signature_time_stamp_token" in kinds) == (profile != "B-B"), profile
        assert ("/DSS" in reader.root) == (profile in ("B-LT", "B-LTA")), profile
        assert len(reader.embedded_timestamp_signatures) == (profile == "B-LTA"), profile


def test_a_time_stamp_from_after_the_certificate_ended_proves_nothing(short: Pki, at: list[datetime]) -> None:
    at[0] = CERT_END + timedelta(days=2)  # a stamp asked for with the old key after its certificate ended
    seal = pades.SealSigner(short.signer, timestamper=short.stamper, profile="B-T", trust_roots=[short.root])
    late = seal.sign(make_pdf(), signing_time=SEALED)
    check = _check(short, late, LATER)
    assert check.valid and not check.trusted and check.trusted_at is None


def test_the_seal_outlives_a_rotation_that_revoked_its_certificate__R_DOC_2(
    short: Pki, sealed: dict[str, bytes], at: list[datetime]
) -> None:
    crl = short.crl_revoking_the_seal(ROTATED)
    at[0] = ROTATED + timedelta(days=30)  # the archival update after the rotation carries the CRL in the DSS
    kept = pades.extend_archival(sealed["B-T"], timestamper=short.stamper, trust_roots=[short.root],
                                 moment=at[0], crls=[crl])  # fmt: skip
    unstamped = pades.extend_archival(sealed["B-B"], timestamper=short.stamper, trust_roots=[short.root],
                                      moment=at[0], crls=[crl])  # fmt: skip
    for moment in (ROTATED + timedelta(days=60), LATER):  # revoked, then also expired
        check = _check(short, kept, moment)
        assert check.ok and check.trusted_at == SEALED, (moment, check.reasons)
        # the B-B seal is first proven to exist by that update, after the revocation: untrusted
        late = _check(short, unstamped, moment)
        assert late.valid and not late.trusted, moment


def test_archival_update_keeps_a_b_lta_file_trusted_and_pdfsig_reads_it__R_DOC_2(
    short: Pki, sealed: dict[str, bytes], at: list[datetime], tmp_path: Path
) -> None:
    at[0] = datetime(2021, 11, 1, tzinfo=UTC)
    renewed = pades.extend_archival(sealed["B-LTA"], timestamper=short.stamper, trust_roots=[short.root], moment=at[0])
    assert renewed.startswith(sealed["B-LTA"])  # an incremental update: the sealed bytes are untouched
    reader = PdfFileReader(io.BytesIO(renewed))
    assert len(reader.embedded_timestamp_signatures) == 2
    check = _check(short, renewed, LATER)
    assert check.ok and check.trusted_at == SEALED, check.reasons
    # a B-B file first time-stamped while its certificate was valid is proven from that time on
    bb = pades.extend_archival(sealed["B-B"], timestamper=short.stamper, trust_roots=[short.root], moment=at[0])
    check = _check(short, bb, LATER)
    assert check.ok and check.trusted_at == at[0], check.reasons
    # independent reader: poppler's pdfsig finds the seal's signature valid and lists both document time-stamps
    # (poppler 22.12 does not validate RFC 3161 document time-stamps, "Unimplemented Feature"; its NSS judges
    # certificates today, where the 2021 seal certificate has ended: "Certificate has Expired")
    nss = make_nss_db(tmp_path / "nss", short.directory / pki.ROOT_CERT)
    path = tmp_path / "b-lta.pdf"
    path.write_bytes(renewed)
    out = pdfsig(nss, path)
    assert "Signature #3:" in out and "Signature #4:" not in out, out
    seal, *stamps = out.split("Signature #")[1:]
    assert "Signature Field Name: Seal" in seal and "Signature Validation: Signature is Valid." in seal, out
    assert all("Signer Certificate Common Name: ecert DEMO TSA" in s for s in stamps), out


def test_the_archive_job_renews_what_is_due_and_nothing_else(
    short: Pki, sealed: dict[str, bytes], at: list[datetime], tmp_path: Path
) -> None:
    at[0] = datetime(2021, 10, 1, tzinfo=UTC)
    (tmp_path / "2021").mkdir()
    for profile, pdf in sealed.items():
        (tmp_path / "2021" / f"{profile}.pdf").write_bytes(pdf)
    (tmp_path / "junk.pdf").write_bytes(b"%PDF-1.7 not sealed")

    def extend(pdf: bytes) -> bytes:
        return pades.extend_archival(pdf, timestamper=short.stamper, trust_roots=[short.root], moment=at[0])

    first = archival.renew_archive(tmp_path, extend=extend, now=at[0])
    # the DEMO TSA's certificate ends in 2040: only the file with no time-stamp at all is due, and the junk fails
    assert (first.checked, first.renewed, first.not_due, first.failed) == (5, 1, 3, ["junk.pdf"])
    assert _check(short, (tmp_path / "2021" / "B-B.pdf").read_bytes(), LATER).ok
    again = archival.renew_archive(tmp_path, extend=extend, now=at[0])
    assert (again.renewed, again.not_due) == (0, 4)
    # within the renewal margin of the TSA certificate's end, every time-stamped file is due
    margin = timedelta(days=365 * 20)
    due = archival.renew_archive(tmp_path, extend=extend, now=at[0], renew_before=margin)
    assert due.renewed == 4
    assert all(_check(short, p.read_bytes(), LATER).ok for p in (tmp_path / "2021").glob("*.pdf"))
    assert not list(tmp_path.rglob("*.tmp"))


def test_validation_data_and_time_stamps_after_the_seal_are_not_content_added_after_it(
    short: Pki, sealed: dict[str, bytes], at: list[datetime]
) -> None:
    """Issue 16 §3, data after the seal: the DSS and document time-stamps that B-LT/B-LTA and the archival
    update add are not reported (``appended``); anything else after the sealed revision is."""
    at[0] = datetime(2021, 11, 1, tzinfo=UTC)
    renewed = pades.extend_archival(sealed["B-LTA"], timestamper=short.stamper, trust_roots=[short.root], moment=at[0])
    for label, pdf in ({**sealed, "B-LTA renewed": renewed}).items():
        check = _check(short, pdf, SEALED + timedelta(days=1))
        assert check.ok and not check.appended, (label, check.reasons)
    for label, pdf in {
        "B-LTA, then bytes": renewed + b"\n% added after the seal\n",
        "B-LT, then an unsigned update": _unsigned_update(sealed["B-LT"]),
        "B-B, then an unsigned update": _unsigned_update(sealed["B-B"]),
    }.items():
        check = _check(short, pdf, SEALED + timedelta(days=1))
        assert check.ok and check.appended, (label, check.reasons)


def _unsigned_update(pdf: bytes) -> bytes:
    """An incremental update written after the seal that changes nothing the diff policy forbids (the
    catalog written again, and the document information the writer updates with it)."""
    w = IncrementalPdfFileWriter(io.BytesIO(pdf))
    w.update_root()
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()
