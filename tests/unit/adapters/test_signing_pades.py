"""R-DOC-2: the e-certificate PDF carries a real PAdES seal signature, and validation tells a relying party
whether it is intact, valid, trusted and unmodified — never raising on bad input. R-DATE-1: one clock."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from pyhanko.pdf_utils.reader import PdfFileReader

from ecert.adapters.signing import keys, pades, pki
from ecert.domain.certificate import SEAL_NAME
from helpers_signing import (
    DRILL_TIME,
    add_annotation_after_signing,
    add_page_after_signing,
    byte_ranges,
    claimed_signing_time,
    cms_der_length,
    content_offset,
    flip_byte,
    load_cert,
    make_pdf,
    signing_time_attribute,
)


@pytest.fixture(scope="module")
def seal(demo_pki: pki.DemoPki) -> pades.SealSigner:
    signer = keys.load_signer(keys.SealKeyConfig.pem(demo_pki.seal_key, demo_pki.seal_cert, [demo_pki.root_cert]))
    return pades.SealSigner(signer, reason="一级建造师电子注册证书", location="北京")


@pytest.fixture(scope="module")
def signed(seal: pades.SealSigner) -> bytes:
    return seal.sign(make_pdf(), signing_time=DRILL_TIME)


def test_signed_pdf_validates__R_DOC_2(signed: bytes, demo_root: x509.Certificate) -> None:
    check = pades.validate_pdf(signed, trust_roots=[demo_root], moment=datetime.now(UTC))
    assert check.signed and check.intact and check.valid and check.trusted
    assert not check.modified_after_signing
    assert check.ok and check.reasons == []
    assert check.signer_cn == SEAL_NAME
    assert check.signer_subject.startswith(f"CN={SEAL_NAME},OU=DEMO,O=中华人民共和国住房和城乡建设部")
    assert check.field_name == "Seal" and check.timestamp_time is None


def test_signature_is_pades_b_b_sha256__R_DOC_2(signed: bytes) -> None:
    sig = PdfFileReader(io.BytesIO(signed)).embedded_regular_signatures[0]
    assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert sig.field_name == "Seal"
    assert sig.sig_object["/Reason"] == "一级建造师电子注册证书"
    si = sig.signer_info
    assert si["digest_algorithm"]["algorithm"].native == "sha256"
    attrs = {a["type"].native for a in si["signed_attrs"]}
    assert {"signing_certificate_v2", "message_digest", "content_type"} <= attrs
    # ETSI EN 319 142-1 (PAdES baseline): no CMS signing-time attribute; the claimed time is /M.
    assert "signing_time" not in attrs


def test_signing_time_is_the_app_clock_not_the_wall_clock__R_DATE_1(signed: bytes, demo_root: x509.Certificate) -> None:
    assert claimed_signing_time(signed) == "D:20210301093000+08'00'"
    assert signing_time_attribute(signed) is None
    check = pades.validate_pdf(signed, trust_roots=[demo_root], moment=DRILL_TIME + timedelta(minutes=1))
    assert check.signing_time == DRILL_TIME and check.ok, check.reasons


def test_drill_in_2021_validates_with_certs_valid_then__R_DATE_1(
    seal: pades.SealSigner, demo_root: x509.Certificate
) -> None:
    t = datetime(2021, 7, 10, 23, 59, tzinfo=DRILL_TIME.tzinfo)
    doc = seal.sign(make_pdf("drill"), signing_time=t)
    assert pades.validate_pdf(doc, trust_roots=[demo_root], moment=t).ok


def test_not_trusted_outside_the_certificate_validity(signed: bytes, demo_root: x509.Certificate) -> None:
    check = pades.validate_pdf(signed, trust_roots=[demo_root], moment=datetime(2019, 6, 1, tzinfo=UTC))
    assert check.signed and check.intact and check.valid and not check.trusted
    assert any("not trusted" in r for r in check.reasons)


def test_untrusted_root__R_DOC_2(signed: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    other = pki.create_demo_pki(tmp_path_factory.mktemp("other-pki"))
    check = pades.validate_pdf(signed, trust_roots=[load_cert(other.root_cert)], moment=DRILL_TIME)
    assert check.signed and check.intact and check.valid and not check.trusted and not check.ok
    assert check.signer_cn == SEAL_NAME
    assert any("not trusted" in r for r in check.reasons)
    assert not pades.validate_pdf(signed, trust_roots=[], moment=DRILL_TIME).trusted


def test_flipped_byte_in_signed_content__R_DOC_2(signed: bytes, demo_root: x509.Certificate) -> None:
    tampered = flip_byte(signed, content_offset(signed))
    check = pades.validate_pdf(tampered, trust_roots=[demo_root], moment=DRILL_TIME)
    assert check.signed and not check.intact and not check.valid and not check.trusted and not check.ok
    assert any("digest" in r for r in check.reasons)


def test_no_byte_flip_anywhere_passes_or_raises__R_DOC_2(signed: bytes, demo_root: x509.Certificate) -> None:
    start1, len1, start2, len2 = byte_ranges(signed)
    rng = random.Random(20210301)
    offsets = rng.sample(range(start1, start1 + len1), 25) + rng.sample(range(start2, start2 + len2), 10)
    for offset in offsets:
        check = pades.validate_pdf(flip_byte(signed, offset), trust_roots=[demo_root], moment=DRILL_TIME)
        assert not check.ok, offset


def test_changed_padding_inside_contents__R_DOC_2(signed: bytes, demo_root: x509.Certificate) -> None:
    # /Contents is outside the signed byte ranges; its zero padding after the CMS is signed by nobody.
    _, _, start2, _ = byte_ranges(signed)
    for offset in (start2 - 2, start2 - 100):
        tampered = bytearray(signed)
        assert tampered[offset : offset + 1] == b"0"
        tampered[offset] = ord("1")
        check = pades.validate_pdf(bytes(tampered), trust_roots=[demo_root], moment=DRILL_TIME)
        assert check.intact and check.valid and check.modified_after_signing and not check.ok
        assert any("padding" in r for r in check.reasons)


def test_any_changed_byte_outside_the_cms_is_noticed__R_DOC_2(signed: bytes, demo_root: x509.Certificate) -> None:
    # Everything except the CMS DER itself: both signed ranges and the zero padding of /Contents. (Unsigned
    # parts of the CMS — e.g. the SignedData digestAlgorithms set, copies of CA certificates — are malleable
    # by design of CMS and change nothing that was signed.)
    start1, len1, start2, len2 = byte_ranges(signed)
    der_end = start1 + len1 + 1 + 2 * cms_der_length(signed)
    candidates = [*range(start1, start1 + len1), *range(der_end, start2 - 1), *range(start2, start2 + len2)]
    rng = random.Random(7)
    for offset in rng.sample(candidates, 60):
        tampered = bytearray(signed)
        tampered[offset] = (tampered[offset] + 1) % 256
        assert not pades.validate_pdf(bytes(tampered), trust_roots=[demo_root], moment=DRILL_TIME).ok, offset


def test_annotation_added_after_signing__R_DOC_2(signed: bytes, demo_root: x509.Certificate) -> None:
    check = pades.validate_pdf(add_annotation_after_signing(signed), trust_roots=[demo_root], moment=DRILL_TIME)
    assert check.signed and check.intact and check.valid and check.trusted
    assert check.modified_after_signing and not check.ok
    assert any("modified after signing" in r for r in check.reasons)


def test_page_added_after_signing__R_DOC_2(signed: bytes, demo_root: x509.Certificate) -> None:
    check = pades.validate_pdf(add_page_after_signing(signed), trust_roots=[demo_root], moment=DRILL_TIME)
    assert check.intact and check.valid and check.modified_after_signing and not check.ok


def test_second_signature_by_someone_else_counts_as_modification(
    signed: bytes, demo_root: x509.Certificate, tmp_path_factory: pytest.TempPathFactory
) -> None:
    other = pki.create_demo_pki(tmp_path_factory.mktemp("intruder"))
    intruder = keys.load_signer(keys.SealKeyConfig.pem(other.seal_key, other.seal_cert))
    twice = pades.sign_pdf(signed, intruder, signing_time=DRILL_TIME, field_name="Other")
    check = pades.validate_pdf(twice, trust_roots=[demo_root], moment=DRILL_TIME)
    assert check.field_name == "Seal" and check.modified_after_signing and not check.ok
    assert not pades.validate_pdf(twice, trust_roots=[demo_root], moment=DRILL_TIME, field_name="Other").trusted


@pytest.mark.parametrize(
    ("label", "data"),
    [
        ("empty", b""),
        ("garbage", b"\x00\xffnot a pdf at all" * 50),
        ("header only", b"%PDF-1.7\n"),
        ("unsigned", make_pdf()),
    ],
)
def test_bad_input_gives_a_result_not_an_exception__R_DOC_2(
    label: str, data: bytes, demo_root: x509.Certificate
) -> None:
    check = pades.validate_pdf(data, trust_roots=[demo_root], moment=DRILL_TIME)
    assert not check.signed and not check.ok and check.reasons, label


def test_truncated_signed_pdf(signed: bytes, demo_root: x509.Certificate) -> None:
    for cut in (len(signed) // 3, len(signed) // 2, len(signed) - 40, len(signed) - 1):
        check = pades.validate_pdf(signed[:cut], trust_roots=[demo_root], moment=DRILL_TIME)
        assert not check.ok and check.reasons


def test_unknown_field_name(signed: bytes, demo_root: x509.Certificate) -> None:
    check = pades.validate_pdf(signed, trust_roots=[demo_root], moment=DRILL_TIME, field_name="Nope")
    assert not check.signed and "Nope" in check.reasons[0]


def test_contents_is_presized_from_the_chain(seal: pades.SealSigner, signed: bytes) -> None:
    # /Contents <...> holds exactly bytes_reserved hex digits: no fallback to pyHanko's trial-signature sizing.
    start1, len1, start2, _ = byte_ranges(signed)
    assert start2 - (start1 + len1) == seal.bytes_reserved + 2
    assert seal.bytes_reserved == pades.estimate_bytes_reserved(seal.signer)
    cms_len = len(PdfFileReader(io.BytesIO(signed)).embedded_regular_signatures[0].signed_data.dump())
    assert cms_len < seal.bytes_reserved // 2


def test_too_small_reservation_falls_back(seal: pades.SealSigner, demo_root: x509.Certificate) -> None:
    tiny = pades.SealSigner(seal.signer, bytes_reserved=512)
    doc = tiny.sign(make_pdf(), signing_time=DRILL_TIME)
    assert pades.validate_pdf(doc, trust_roots=[demo_root], moment=DRILL_TIME).ok


def test_naive_times_are_refused(seal: pades.SealSigner, signed: bytes, demo_root: x509.Certificate) -> None:
    with pytest.raises(ValueError, match="aware"):
        seal.sign(make_pdf(), signing_time=datetime(2021, 3, 1))
    with pytest.raises(ValueError, match="aware"):
        pades.validate_pdf(signed, trust_roots=[demo_root], moment=datetime(2021, 3, 1))


async def _async_roundtrip(seal: pades.SealSigner, demo_root: x509.Certificate) -> pades.SignatureCheck:
    doc = await pades.async_sign_pdf(make_pdf(), seal.signer, signing_time=DRILL_TIME)
    return await pades.async_validate_pdf(doc, trust_roots=[demo_root], moment=DRILL_TIME)


def test_async_variants_inside_an_event_loop(seal: pades.SealSigner, demo_root: x509.Certificate) -> None:
    import asyncio

    assert asyncio.run(_async_roundtrip(seal, demo_root)).ok
