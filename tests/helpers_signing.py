"""Shared helpers for the seal-signature tests (R-DOC-2): test PDFs, byte surgery, incremental updates after
signing, poppler's ``pdfsig`` with a throwaway NSS database, and a SoftHSM2 token in a temp dir."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from asn1crypto import parser as asn1_parser
from cryptography import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from reportlab.pdfgen import canvas

CST = timezone(timedelta(hours=8))
DRILL_TIME = datetime(2021, 3, 1, 9, 30, tzinfo=CST)  # ECERT_TODAY=2021-03-01
SOFTHSM_MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")


def make_pdf(text: str = "e-certificate test page", pages: int = 1) -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(595, 842), pageCompression=0)  # text in clear: tests edit it
    for i in range(pages):
        c.drawString(72, 770, f"{text} {i + 1}")
        c.showPage()
    c.save()
    return buf.getvalue()


def load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def byte_ranges(signed: bytes) -> list[int]:
    """The /ByteRange of the (first) signature: [start1, len1, start2, len2]."""
    m = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", signed)
    assert m is not None, "no /ByteRange"
    return [int(g) for g in m.groups()]


def flip_byte(data: bytes, offset: int) -> bytes:
    b = bytearray(data)
    b[offset] ^= 0x01
    return bytes(b)


def content_offset(signed: bytes, needle: bytes = b"e-certificate test page") -> int:
    """Offset of a byte of the page text (uncompressed, see make_pdf) — inside the first signed range."""
    idx = signed.find(needle)
    start, length, _, _ = byte_ranges(signed)
    assert idx != -1 and start <= idx < start + length
    return idx + len(needle) - 1


def add_annotation_after_signing(signed: bytes) -> bytes:
    """An incremental update adding a FreeText annotation to page 1 (not allowed after a B-B seal)."""
    w = IncrementalPdfFileWriter(io.BytesIO(signed))
    page_ref, _ = w.find_page_for_modification(0)
    page = page_ref.get_object()
    annot = generic.DictionaryObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/Annot"),
            generic.pdf_name("/Subtype"): generic.pdf_name("/FreeText"),
            generic.pdf_name("/Rect"): generic.ArrayObject([generic.NumberObject(n) for n in (72, 600, 300, 640)]),
            generic.pdf_name("/Contents"): generic.TextStringObject("VOID — forged note"),
            generic.pdf_name("/DA"): generic.pdf_string("/Helv 12 Tf 0 g"),
        }
    )
    annot_ref = w.add_object(annot)
    annots = page.get("/Annots")
    if annots is None:
        page[generic.pdf_name("/Annots")] = generic.ArrayObject([annot_ref])
    else:
        annots.get_object().append(annot_ref)
    w.update_container(page)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def add_page_after_signing(signed: bytes) -> bytes:
    """An incremental update appending a blank page."""
    w = IncrementalPdfFileWriter(io.BytesIO(signed))
    content = generic.StreamObject(stream_data=b"BT /F1 12 Tf 72 770 Td (forged page) Tj ET")
    page = generic.DictionaryObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/Page"),
            generic.pdf_name("/MediaBox"): generic.ArrayObject([generic.NumberObject(n) for n in (0, 0, 595, 842)]),
            generic.pdf_name("/Contents"): w.add_object(content),
            generic.pdf_name("/Resources"): generic.DictionaryObject(),
        }
    )
    w.insert_page(page)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def cms_der_length(signed: bytes) -> int:
    """Length of the CMS DER at the start of /Contents (the rest is zero padding)."""
    raw = bytes(PdfFileReader(io.BytesIO(signed)).embedded_regular_signatures[0].pkcs7_content)
    _, _, _, header, contents, trailer = asn1_parser.parse(raw)
    return len(header) + len(contents) + len(trailer)


def signing_time_attribute(signed: bytes) -> datetime | None:
    """The CMS signed attribute ``signing-time`` of the first signature, if any (PAdES forbids it)."""
    sig = PdfFileReader(io.BytesIO(signed)).embedded_regular_signatures[0]
    for attr in sig.signer_info["signed_attrs"]:
        if attr["type"].native == "signing_time":
            value: datetime = attr["values"][0].native
            return value
    return None


def claimed_signing_time(signed: bytes) -> str:
    """The signature dictionary's /M (the PAdES claimed signing time) as a PDF date string."""
    sig = PdfFileReader(io.BytesIO(signed)).embedded_regular_signatures[0]
    return str(sig.sig_object["/M"])


# ------------------------------------------------------------------------------------------------ pdfsig


def have_pdfsig() -> bool:
    return shutil.which("pdfsig") is not None and shutil.which("certutil") is not None


def make_nss_db(directory: Path, root_pem: Path) -> str:
    """An NSS database trusting ``root_pem`` for everything (CT,C,C). Returns the ``sql:`` spec."""
    directory.mkdir(parents=True, exist_ok=True)
    spec = f"sql:{directory}"
    subprocess.run(["certutil", "-N", "-d", spec, "--empty-password"], check=True, capture_output=True)
    subprocess.run(
        ["certutil", "-A", "-d", spec, "-n", "ecert-demo-root", "-t", "CT,C,C", "-i", str(root_pem)],
        check=True,
        capture_output=True,
    )
    return spec


def pdfsig(nss: str, pdf_path: Path) -> str:
    # No -no-ocsp: poppler 22.12 then reports "Unknown issue with Certificate" even for a trusted chain. The DEMO
    # certificates carry no AIA/OCSP URL, so pdfsig goes to no network anyway.
    r = subprocess.run(["pdfsig", "-nssdir", nss, str(pdf_path)], capture_output=True, text=True, timeout=30)
    return r.stdout + r.stderr


# ------------------------------------------------------------------------------------------------ SoftHSM2


@dataclass(frozen=True)
class SoftHsm:
    conf: Path
    module: Path
    token_label: str
    pin: str
    so_pin: str

    def env(self) -> dict[str, str]:
        return {**os.environ, "SOFTHSM2_CONF": str(self.conf)}


def have_softhsm() -> bool:
    return shutil.which("softhsm2-util") is not None and SOFTHSM_MODULE.exists()


def init_softhsm(
    directory: Path, *, token_label: str = "ecert-test", pin: str = "1234", so_pin: str = "5678"
) -> SoftHsm:
    """A SoftHSM2 config whose token directory is ``directory/tokens``, with one initialised token.
    The caller must export SOFTHSM2_CONF before the module is first loaded in this process."""
    tokens = directory / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    hsm = SoftHsm(conf=conf, module=SOFTHSM_MODULE, token_label=token_label, pin=pin, so_pin=so_pin)
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", token_label, "--pin", pin, "--so-pin", so_pin],
        check=True,
        capture_output=True,
        env=hsm.env(),
    )
    return hsm


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SealFiles:
    """A seal key, its certificate and the root that issued it (PEM files)."""

    key: Path
    cert: Path
    root: Path


def make_production_like_seal(directory: Path) -> SealFiles:
    """A root CA and a seal certificate shaped like production ones — no OU=DEMO anywhere, unlike
    :func:`ecert.adapters.signing.pki.create_demo_pki` — valid 2020–2040 like the DEMO PKI."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from ecert.adapters.signing import pki

    directory.mkdir(parents=True, exist_ok=True)
    validity = datetime(2020, 1, 1, tzinfo=UTC), datetime(2040, 1, 1, tzinfo=UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name(
        [x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"), x509.NameAttribute(NameOID.COMMON_NAME, "Test Seal Root CA")]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(root_key.public_key())
    root = (
        pki.certificate_builder(root_name, root_name, root_key.public_key(), validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(ski, critical=False)
        .sign(root_key, hashes.SHA256())
    )
    seal_key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "中华人民共和国住房和城乡建设部"),
            x509.NameAttribute(NameOID.COMMON_NAME, "一级建造师行政许可专用章"),
        ]
    )
    cert = pki.issue_certificate((root, root_key), seal_key.public_key(), subject, pki.SEAL_EKUS)
    files = SealFiles(directory / "seal-key.pem", directory / "seal-cert.pem", directory / "root-cert.pem")
    files.key.write_bytes(pki.key_pem(seal_key))
    files.cert.write_bytes(pki.cert_pem(cert))
    files.root.write_bytes(pki.cert_pem(root))
    return files
