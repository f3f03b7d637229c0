"""The fast seal path gives the same verdicts as pyHanko's own signing (R-DOC-2).

Both sign the same rendered certificate with the same DEMO key; each signed file and a set of
tampered copies go through pyHanko's validation and poppler's pdfsig. Every verdict must agree.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from PIL import Image

from ecert.adapters.documents import CertificateRenderer
from ecert.adapters.sealing import PadesSealer
from ecert.adapters.signing import pki
from ecert.adapters.signing.fast_pades import FastPadesSigner, FastSealError
from ecert.adapters.signing.keys import SealKeyConfig, load_signer
from ecert.adapters.signing.pades import validate_pdf
from ecert.domain.certificate import CertificateContent, PrintedSpecialty
from helpers_signing import (
    DRILL_TIME,
    add_annotation_after_signing,
    add_page_after_signing,
    byte_ranges,
    flip_byte,
    have_pdfsig,
    make_nss_db,
    make_pdf,
    pdfsig,
)


def _png() -> bytes:
    b = io.BytesIO()
    Image.new("RGB", (300, 100), "white").save(b, "PNG")
    return b.getvalue()


def _unsigned() -> bytes:
    content = CertificateContent(
        serial="7QSAAOPZX7VQLPBD",
        identifier="1.2.156.3005.2.11100000000013338W000.11100000000013338W.7QSAAOPZX7VQLPBD.001.X",
        registration_no="浙1332010201200077",
        name="张𠮷",
        gender="男",
        birth_date=date(1980, 5, 5),
        id_number_masked="330102********0011",
        employer_name="浙江一建有限公司",
        employer_uscc="91330100MA2XXXXX0X",
        specialties=(PrintedSpecialty("建筑工程", date(2023, 1, 1)),),
        usage_from=date(2021, 3, 1),
        usage_until=date(2021, 8, 28),
        issue_date=date(2021, 3, 1),
        data_version=1,
    )
    return CertificateRenderer().render(
        content, qr_text="HTTPS://ECERT.EXAMPLE.CN/V/ABC", signature_image=_png(), photo=None, metadata={}
    )


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[PadesSealer, PadesSealer, list[x509.Certificate], Path]:
    d = tmp_path_factory.mktemp("pki")
    demo = pki.create_demo_pki(d)
    signer = load_signer(SealKeyConfig.pem(demo.seal_key, demo.seal_cert, (demo.root_cert,)))
    fast, slow = PadesSealer(signer), PadesSealer(signer, fast=False)
    assert (fast.path, slow.path) == ("fast", "pyhanko")
    roots = x509.load_pem_x509_certificates(demo.root_cert.read_bytes())
    return fast, slow, roots, demo.root_cert


def _content_byte(signed: bytes) -> int:
    start, length, _, _ = byte_ranges(signed)
    return start + length // 2


def _contents_padding(signed: bytes) -> int:
    _, _, second, _ = byte_ranges(signed)
    return second - 10  # inside the zero padding at the end of /Contents


def _inside_cms(signed: bytes) -> int:
    _, length, _, _ = byte_ranges(signed)
    return length + 200  # a hex digit inside the certificates of the CMS


def _last_byte(signed: bytes) -> int:
    return len(signed) - 3


TAMPERS: dict[str, Callable[[bytes], bytes]] = {
    "untouched": lambda b: b,
    "content byte flipped": lambda b: flip_byte(b, _content_byte(b)),
    "first byte flipped": lambda b: flip_byte(b, 3),
    "cms byte flipped": lambda b: flip_byte(b, _inside_cms(b)),
    "contents padding changed": lambda b: b[: _contents_padding(b)] + b"1" + b[_contents_padding(b) + 1 :],
    "trailer byte flipped": lambda b: flip_byte(b, _last_byte(b)),
    "annotation added after sealing": add_annotation_after_signing,
    "page added after sealing": add_page_after_signing,
    "truncated": lambda b: b[: len(b) // 2],
}


@pytest.mark.parametrize("tamper", list(TAMPERS))
def test_fast_and_pyhanko_seals_get_the_same_verdicts__R_DOC_2(
    setup: tuple[PadesSealer, PadesSealer, list[x509.Certificate], Path], tamper: str
) -> None:
    fast, slow, roots, _ = setup
    unsigned = _unsigned()
    moment = DRILL_TIME + timedelta(hours=1)
    verdicts = []
    for sealer in (fast, slow):
        signed = sealer.seal(unsigned, DRILL_TIME)
        changed = TAMPERS[tamper](signed)  # a tamper case that cannot be built fails the test
        c = validate_pdf(changed, trust_roots=roots, moment=moment)
        verdicts.append((c.signed, c.intact, c.valid, c.trusted, c.modified_after_signing))
    assert verdicts[0] == verdicts[1], (tamper, verdicts)
    if tamper == "untouched":
        assert verdicts[0] == (True, True, True, True, False)
    elif tamper != "cms byte flipped":  # unsigned CMS parts may change without breaking anything
        assert verdicts[0] != (True, True, True, True, False), tamper


def test_pdfsig_accepts_the_fast_seal_and_sees_tampering__R_DOC_2(
    setup: tuple[PadesSealer, PadesSealer, list[x509.Certificate], Path], tmp_path: Path
) -> None:
    assert have_pdfsig(), "pdfsig/certutil missing: run scripts/setup"
    fast, _, _, root = setup
    nss = make_nss_db(tmp_path / "nss", root)
    signed = fast.seal(_unsigned(), DRILL_TIME)
    good, bad = tmp_path / "good.pdf", tmp_path / "bad.pdf"
    good.write_bytes(signed)
    bad.write_bytes(flip_byte(signed, _content_byte(signed)))
    out = pdfsig(nss, good)
    assert "Signature is Valid" in out and "Certificate is Trusted" in out, out
    assert "Total document signed" in out
    assert "Signature is Valid" not in pdfsig(nss, bad)


def test_fast_path_refuses_documents_it_was_not_made_for(
    setup: tuple[PadesSealer, PadesSealer, list[x509.Certificate], Path],
) -> None:
    fast, slow, roots, _ = setup
    assert fast._fast is not None
    with pytest.raises(FastSealError):
        fast._fast.sign(slow.seal(_unsigned(), DRILL_TIME), signing_time=DRILL_TIME)  # a second revision
    two_pages = make_pdf(pages=2)
    with pytest.raises(FastSealError):
        fast._fast.sign(two_pages, signing_time=DRILL_TIME)
    # …and the sealer falls back to pyHanko for such a document.
    c = validate_pdf(fast.seal(two_pages, DRILL_TIME), trust_roots=roots, moment=DRILL_TIME + timedelta(hours=1))
    assert (c.intact, c.valid, c.trusted, c.modified_after_signing) == (True, True, True, False)


def test_fast_signer_reserves_enough_for_rsa_keys_too(tmp_path: Path) -> None:
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import Encoding

    demo = pki.create_demo_pki(tmp_path)
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    cert = pki.issue_demo_seal_certificate(tmp_path, key.public_key())
    root = x509.load_pem_x509_certificate(demo.root_cert.read_bytes())
    signer = FastPadesSigner(
        key,
        asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER)),
        [asn1_x509.Certificate.load(root.public_bytes(Encoding.DER))],
    )
    signed = signer.sign(_unsigned(), signing_time=DRILL_TIME)
    roots = x509.load_pem_x509_certificates(demo.root_cert.read_bytes())
    c = validate_pdf(signed, trust_roots=roots, moment=DRILL_TIME + timedelta(hours=1))
    assert (c.intact, c.valid, c.trusted, c.modified_after_signing) == (True, True, True, False)
