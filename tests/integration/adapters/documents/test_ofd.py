"""The OFD certificate and its SM2/SM3 electronic seal (R-DOC-6, GB/T 33190 and GB/T 38540 v4).

The package is rendered from the same page description as the PDF; the text (rare characters
included) is in Content.xml and the glyphs in the embedded subsets. The seal is checked by our
verifier and, independently, by Debian's ``openssl``: it verifies the SM2 signature over the DER
``TBS_Sign`` with the seal certificate's key and the default user ID, parses ``SignedValue.dat``, and
verifies the DEMO seal certificate under the DEMO SM2 root. Each tampered package gets its own
problem code and the PDF-shaped verdict, never an exception.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import x509
from PIL import Image, ImageDraw
from reportlab.pdfbase.ttfonts import TTFontFile

from ecert.adapters.documents import CertificateRenderer, default_fonts
from ecert.adapters.documents.ofd_render import OFD_NS, render_ofd, zip_package
from ecert.adapters.documents.page import MM, prepare_inputs
from ecert.adapters.signing import ses
from ecert.adapters.signing.ofd_seal import (
    SEAL_FILE,
    SIGNATURE,
    SIGNED_VALUE,
    OfdSealer,
    OfdSealVerifier,
    make_seal,
)
from ecert.adapters.signing.sm2 import SM2_SEAL_KEY, DemoSm2Pki, Sm2Key, certificate_pem, demo_sm2_pki, sm3
from helpers_documents import (
    QR_TEXT,
    RARE_NAME,
    need,
    package_files,
    pdftotext,
    photo_jpeg,
    render_sample,
    signature_png,
    with_escaping_path,
    zip_bomb,
)
from helpers_documents import sample_content as _content

NS = {"ofd": OFD_NS}
NOW = datetime(2025, 3, 1, 1, 30, tzinfo=UTC)
CONTENT_XML = "Doc_0/Pages/Page_0/Content.xml"


@pytest.fixture(scope="module")
def pki() -> DemoSm2Pki:
    return demo_sm2_pki(NOW - timedelta(days=30))


@pytest.fixture(scope="module")
def unsealed() -> bytes:
    fonts = default_fonts()
    content = _content(3)
    signature, portrait = prepare_inputs(content, signature_png(), photo_jpeg(), fonts)
    return render_ofd(content, QR_TEXT, signature, portrait, fonts, demo=True)


def _sealer(pki: DemoSm2Pki, package: bytes, key: Sm2Key | None = None) -> OfdSealer:
    picture = package_files(package)["Doc_0/Res/seal.png"]
    seal = make_seal(
        es_id="DEMO-SEAL-1", picture_png=picture, signer_cert=pki.seal, maker_key=pki.root_key,
        maker_cert=pki.root, valid_start=NOW - timedelta(days=30), valid_end=NOW + timedelta(days=3650),
    )  # fmt: skip
    return OfdSealer(key or pki.seal_key, pki.seal, seal)


@pytest.fixture(scope="module")
def sealed(pki: DemoSm2Pki, unsealed: bytes) -> bytes:
    return _sealer(pki, unsealed).seal_package(unsealed, NOW)


def _openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        pytest.fail("openssl (Debian package openssl) is not installed — run scripts/setup")
    return path


# --- the package (R-DOC-6: GB/T 33190 layout)


def test_package_layout_and_determinism(unsealed: bytes) -> None:
    files = package_files(unsealed)
    assert list(files)[:5] == [
        "OFD.xml", "Doc_0/Document.xml", "Doc_0/PublicRes.xml", "Doc_0/DocumentRes.xml", CONTENT_XML
    ]  # fmt: skip
    assert {n for n in files if n.startswith("Doc_0/Res/")} >= {"Doc_0/Res/seal.png"}
    ofd = ET.fromstring(files["OFD.xml"])
    assert ofd.tag == f"{{{OFD_NS}}}OFD"
    assert ofd.findtext("ofd:DocBody/ofd:DocRoot", None, NS) == "Doc_0/Document.xml"
    doc = ET.fromstring(files["Doc_0/Document.xml"])
    assert doc.findtext("ofd:CommonData/ofd:PageArea/ofd:PhysicalBox", None, NS) == "0 0 210 297"
    res = ET.fromstring(files["Doc_0/PublicRes.xml"])
    for font in res.iterfind("ofd:Fonts/ofd:Font", NS):
        data = files["Doc_0/Res/" + (font.findtext("ofd:FontFile", "", NS))]
        assert data[:4] == b"\x00\x01\x00\x00"  # a TrueType font program
    images = ET.fromstring(files["Doc_0/DocumentRes.xml"])
    for media in images.iterfind("ofd:MultiMedias/ofd:MultiMedia", NS):
        assert "Doc_0/Res/" + media.findtext("ofd:MediaFile", "", NS) in files
    ids = [e.get("ID") for e in ET.fromstring(files[CONTENT_XML]).iter() if e.get("ID")]
    assert len(ids) == len(set(ids))
    # Fixed zip timestamps and ordering: the same inputs give the same bytes.
    fonts = default_fonts()
    content = _content(3)
    signature, portrait = prepare_inputs(content, signature_png(), photo_jpeg(), fonts)
    assert render_ofd(content, QR_TEXT, signature, portrait, fonts, demo=True) == unsealed


def _page_text(package: bytes) -> str:
    page = ET.fromstring(package_files(package)[CONTENT_XML])
    return "\n".join(t.text or "" for t in page.iter(f"{{{OFD_NS}}}TextCode"))


def test_text_is_extractable_and_the_rare_glyphs_are_embedded(unsealed: bytes) -> None:
    text = _page_text(unsealed)
    content = _content(3)
    for field in (RARE_NAME, content.registration_no, content.identifier, content.employer_name, "建筑工程"):
        assert field in text.replace("\n", "") or field in text
    assert "\U00020bb7" in text  # 𠮷, CJK Extension B, from the fallback font
    # The TextObject drawing 𠮷 uses an embedded subset whose glyph for it has an outline.
    files = package_files(unsealed)
    page = ET.fromstring(files[CONTENT_XML])
    res = ET.fromstring(files["Doc_0/PublicRes.xml"])
    font_files = {f.get("ID"): f.findtext("ofd:FontFile", "", NS) for f in res.iterfind("ofd:Fonts/ofd:Font", NS)}
    obj = next(o for o in page.iter(f"{{{OFD_NS}}}TextObject") if "\U00020bb7" in (o.findtext("ofd:TextCode", "", NS)))
    code = obj.find("ofd:TextCode", NS)
    assert code is not None
    glyphs = [int(g) for g in obj.findtext("ofd:CGTransform/ofd:Glyphs", "", NS).split()]
    assert len(glyphs) == len(code.text or "") and all(glyphs)
    deltas = (code.get("DeltaX") or "").split()
    assert len(deltas) == len(code.text or "") - 1 and all(float(d) > 0 for d in deltas)
    # The embedded subset carries the fallback font's own outline of 𠮷.
    fonts = default_fonts()
    face = fonts.face(fonts.font_for("\U00020bb7"))
    gid = face.charToGlyph[0x20BB7]
    start = face.get_table_pos("glyf")[0]
    outline = face._ttf_data[start + face.glyphPos[gid] : start + face.glyphPos[gid + 1]]
    embedded = files["Doc_0/Res/" + font_files[obj.get("Font")]]
    assert len(outline) > 10 and outline in embedded
    # Its cmap is Unicode (checksums valid): a reader ignoring CGTransform finds the same glyph.
    at = (code.text or "").index("\U00020bb7")
    assert TTFontFile(io.BytesIO(embedded), validate=1).charToGlyph[0x20BB7] == glyphs[at]


def test_an_independent_reader_sees_the_pdf_text_where_the_pdf_has_it(sealed: bytes, tmp_path: Path) -> None:
    """ofdkit (an OFD reader of its own, not our code) reads the sealed package: every field, the rare
    name included, in reading order, each word at the place the PDF of the same certificate has it.

    Tried and not used as the checker (2026-12, easyofd 20260427): easyofd's parser reads this package
    whole (every TextObject, 𠮷䶮𪚥 with their fonts, positions and DeltaX; the seal), but its OFD→PDF
    writer shows none of it: ``DrawPDF.draw_chars`` sets the ReportLab font "宋体" for all text, whatever
    fonts the package embeds, so on Debian (no SimSun) every character is skipped and pdftotext finds
    no text; and it ends every path with a stroke-only ``drawPath``, so filled paths (the QR modules,
    ``Fill="true" Stroke="false"``) come out as outlines that zxing cannot read. Neither is a fault of
    the package. The npm ofd.js 1.5.0 is a minified build that needs a separate obfuscated core library
    (parser_x.js) and a viewer framework: not tried."""
    ofdkit = need("ofdkit")
    path = tmp_path / "c.ofd"
    path.write_bytes(sealed)
    doc = ofdkit.open(str(path))
    lines = [re.sub(r"\s+", " ", line).strip() for line in doc.text().splitlines()]
    content = _content(3)
    assert f"姓名 {RARE_NAME}" in lines
    assert f"注册编号 {content.registration_no}" in lines
    assert f"电子证照标识：{content.identifier}" in lines
    assert f"证书编号：{content.serial}" in lines
    pdf = render_sample(CertificateRenderer(demo=True).render, content)
    bbox = pdftotext(pdf, tmp_path, "-bbox")
    words = {
        w: (float(x), float(y))
        for x, y, w in re.findall(r'xMin="([\d.]+)" yMin="[\d.]+" xMax="[\d.]+" yMax="([\d.]+)">([^<]+)</word>', bbox)
    }
    matched = 0
    for run in doc.pages[0].runs:
        if run.text in words:
            x, bottom = words[run.text]
            assert abs(run.x * MM - x) < 0.5, run  # same left edge (points)
            assert abs(run.y * MM - bottom) < run.size * MM * 0.35, run  # baseline just above the box bottom
            matched += 1
    assert matched >= 15


def test_the_qr_paths_scan(unsealed: bytes) -> None:
    """The QR code's path objects, filled as a reader fills them (10 px a mm), decode to the QR text."""
    zxingcpp = need("zxingcpp")
    page = ET.fromstring(package_files(unsealed)[CONTENT_XML])
    scale = 10
    image = Image.new("L", (210 * scale, 297 * scale), 255)
    draw = ImageDraw.Draw(image)
    for obj in page.iter(f"{{{OFD_NS}}}PathObject"):
        data = obj.findtext("ofd:AbbreviatedData", "", NS)
        fill = obj.find("ofd:FillColor", NS)
        if fill is None or obj.get("Fill") != "true" or "B" in data.split():
            continue  # the QR code is filled straight lines only
        shade = round(sum(int(v) for v in (fill.get("Value") or "0 0 0").split()) / 3)
        for sub in re.findall(r"M ([^MC]+)C", data):
            nums = [float(v) * scale for v in sub.replace("L", " ").split()]
            if len(nums) == 8:
                draw.polygon(list(zip(nums[::2], nums[1::2], strict=True)), fill=shade)
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [r.text for r in found] == [QR_TEXT]


# --- the seal


def test_sealed_package_verifies(pki: DemoSm2Pki, sealed: bytes) -> None:
    check = OfdSealVerifier([pki.root]).check(sealed, NOW)
    assert check.problem is None
    assert check.verdict.intact and check.verdict.trusted and not check.verdict.modified_after_signing
    files = package_files(sealed)
    signature = ET.fromstring(files[SIGNATURE])
    info = signature.find("ofd:SignedInfo", NS)
    assert info is not None
    assert info.findtext("ofd:SignatureMethod", None, NS) == "1.2.156.10197.1.501"
    refs = info.find("ofd:References", NS)
    assert refs is not None and refs.get("CheckMethod") == "1.2.156.10197.1.401"
    listed = {r.get("FileRef", "").lstrip("/") for r in refs.iterfind("ofd:Reference", NS)}
    assert listed == set(files) - {SIGNATURE, SIGNED_VALUE}  # every file of the package (R-DOC-6)
    assert info.find("ofd:StampAnnot", NS) is not None


def test_openssl_checks_the_signature_independently(pki: DemoSm2Pki, sealed: bytes, tmp_path: Path) -> None:
    openssl = _openssl()
    files = package_files(sealed)
    value = files[SIGNED_VALUE]
    parsed = subprocess.run([openssl, "asn1parse", "-inform", "DER"], input=value, capture_output=True, check=True)
    assert b"1.2.156.10197.1.501" in parsed.stdout or b"SM2-with-SM3" in parsed.stdout
    sig = ses.SESSignature.load(value)
    assert sig["to_sign"]["version"].native == 4
    assert bytes(sig["to_sign"]["data_hash"]) == sm3(files[SIGNATURE])
    assert sig["to_sign"]["eseal"].dump() == files[SEAL_FILE]
    assert sig["to_sign"]["eseal"]["eseal_info"]["header"]["id"].native == "ES"
    (tmp_path / "tbs.der").write_bytes(sig["to_sign"].dump())
    (tmp_path / "sig.der").write_bytes(bytes(sig["signature"]))
    (tmp_path / "cert.pem").write_bytes(certificate_pem(x509.Certificate.load(sig["cert"].native)))
    (tmp_path / "root.pem").write_bytes(certificate_pem(pki.root))
    pub = subprocess.run(
        [openssl, "x509", "-in", "cert.pem", "-pubkey", "-noout"], cwd=tmp_path, capture_output=True, check=True
    )
    (tmp_path / "pub.pem").write_bytes(pub.stdout)
    verify = [openssl, "dgst", "-sm3", "-verify", "pub.pem", "-sigopt", "distid:1234567812345678"]
    ok = subprocess.run([*verify, "-signature", "sig.der", "tbs.der"], cwd=tmp_path, capture_output=True)
    assert ok.returncode == 0 and b"Verified OK" in ok.stdout
    (tmp_path / "tbs.der").write_bytes(sig["to_sign"].dump()[:-1] + b"\x00")
    bad = subprocess.run([*verify, "-signature", "sig.der", "tbs.der"], cwd=tmp_path, capture_output=True)
    assert bad.returncode != 0
    chain = subprocess.run(
        [openssl, "verify", "-vfyopt", "distid:1234567812345678", "-CAfile", "root.pem", "cert.pem"],
        cwd=tmp_path, capture_output=True,
    )  # fmt: skip
    assert chain.returncode == 0, chain.stderr


def test_openssl_made_key_signs_a_seal_we_verify(pki: DemoSm2Pki, unsealed: bytes, tmp_path: Path) -> None:
    """A key from ``openssl genpkey -algorithm SM2`` loads, and our SM2 verifies what openssl signs."""
    openssl = _openssl()
    subprocess.run([openssl, "genpkey", "-algorithm", "SM2", "-out", "k.pem"], cwd=tmp_path, check=True)
    key = Sm2Key.from_pem((tmp_path / "k.pem").read_bytes())
    (tmp_path / "msg").write_bytes(b"R-DOC-6")
    subprocess.run(
        [openssl, "dgst", "-sm3", "-sign", "k.pem", "-sigopt", "distid:1234567812345678", "-out", "sig", "msg"],
        cwd=tmp_path, check=True,
    )  # fmt: skip
    from ecert.adapters.signing.sm2 import sm2_verify

    assert sm2_verify(key.public, b"R-DOC-6", (tmp_path / "sig").read_bytes())
    assert not sm2_verify(key.public, b"another message", (tmp_path / "sig").read_bytes())
    # And the other way: openssl reads the DEMO key file we write and signs what we verify.
    pki.write(tmp_path / "sm2")
    subprocess.run(
        [openssl, "dgst", "-sm3", "-sign", str(tmp_path / "sm2" / SM2_SEAL_KEY), "-sigopt",
         "distid:1234567812345678", "-out", "sig2", "msg"],
        cwd=tmp_path, check=True,
    )  # fmt: skip
    assert sm2_verify(pki.seal_key.public, b"R-DOC-6", (tmp_path / "sig2").read_bytes())


# --- tampering: each case its own problem code, the PDF-shaped verdict, never an exception


def _replace(package: bytes, name: str, data: bytes | None) -> bytes:
    files = package_files(package)
    if data is None:
        del files[name]
    else:
        files[name] = data
    return zip_package(files.items())


def _edit_content(package: bytes) -> bytes:
    content = package_files(package)[CONTENT_XML].replace("晋1142024202501467".encode(), "晋1142024202509999".encode())
    return _replace(package, CONTENT_XML, content)


def _swap_signed_value(package: bytes, other: bytes) -> bytes:
    return _replace(package, SIGNED_VALUE, package_files(other)[SIGNED_VALUE])


def _new_picture(package: bytes) -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (40, 40), (200, 0, 0, 255)).save(buf, "PNG")
    return _replace(package, "Doc_0/Res/seal.png", buf.getvalue())


def test_tampered_packages_each_get_their_verdict(pki: DemoSm2Pki, unsealed: bytes, sealed: bytes) -> None:
    verifier = OfdSealVerifier([pki.root])
    other = _sealer(pki, unsealed).seal_package(unsealed, NOW + timedelta(minutes=1))
    stranger = demo_sm2_pki(NOW - timedelta(days=30))
    cases = {
        "not a zip": (b"%PDF-1.7 not an OFD", "not_zip", "unreadable"),
        "zip bomb": (zip_bomb(), "zip_bomb", "unreadable"),
        "path escaping the package": (with_escaping_path(sealed), "unsafe_path", "unreadable"),
        "never sealed": (unsealed, "not_signed", "unsigned"),
        "missing file": (_replace(sealed, "Doc_0/Res/font_1.ttf", None), "missing_file", "tampered"),
        "extra file": (_replace(sealed, "Doc_0/Res/extra.xml", b"<x/>"), "extra_file", "modified"),
        "swapped SignedValue.dat": (_swap_signed_value(sealed, other), "signature_mismatch", "tampered"),
        "edited Content.xml": (_edit_content(sealed), "digest_mismatch", "tampered"),
        "replaced seal picture": (_new_picture(sealed), "seal_picture_mismatch", "tampered"),
        "replaced Seal.esl": (
            _replace(sealed, SEAL_FILE, package_files(other)[SEAL_FILE][:-2] + b"\0\0"), "seal_mismatch", "tampered"
        ),
        "garbage SignedValue.dat": (_replace(sealed, SIGNED_VALUE, b"\x30\x03\x02\x01\x04"), "signature_unreadable",
                                    "tampered"),
    }  # fmt: skip
    for label, (package, problem, kind) in cases.items():
        check = verifier.check(package, NOW)
        v = check.verdict
        assert check.problem == problem, label
        shape = {
            "unreadable": not v.readable,
            "unsigned": v.readable and not v.signed,
            "tampered": v.signed and not v.intact,
            "modified": v.intact and v.modified_after_signing,
        }
        assert shape[kind], (label, v)
    # A seal made and signed under another (untrusted) root.
    foreign = _sealer(stranger, unsealed).seal_package(unsealed, NOW)
    check = verifier.check(foreign, NOW)
    assert check.problem == "untrusted_signer"
    assert check.verdict.intact and not check.verdict.trusted
    # The right certificate but a wrong key signing: the signature does not verify.
    wrong_key = _sealer(pki, unsealed, key=stranger.seal_key).seal_package(unsealed, NOW)
    assert verifier.check(wrong_key, NOW).problem == "signature_invalid"
    # Outside the seal's validity.
    assert verifier.check(sealed, NOW + timedelta(days=4000)).problem in ("seal_not_in_force", "untrusted_signer")


def test_text_search_finds_the_holder_in_a_sealed_package(sealed: bytes) -> None:
    """What a reader's search sees stays the real text after sealing (R-DOC-6 with R-DOC-1)."""
    assert re.search(RARE_NAME, _page_text(sealed).replace("\n", ""))
