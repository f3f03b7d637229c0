"""Benchmark: verifying a certificate PDF (issue 6, target 5), against pyHanko's own validation.

Builds a tamper set from a certificate that ecert issues into a temporary DEMO registry — the intact file, byte
flips inside the signed range (page content stream, the QR text, an embedded font, the signature image), a flip
inside the CMS in ``/Contents``, incremental updates after sealing (an annotation, a new page, a counter-signature
by another key; and a benign one, a DSS, which PAdES allows), a changed ``/ByteRange``, truncated files, the same
page re-sealed with a foreign self-signed key, the unsigned page, the signature unlinked from the form, garbage.

For each file it compares

- **ecert**: the verdict of ``services.verification.verify_pdf`` (seal check, signed metadata, QR binding,
  issuance record, registry state, usage window), and the part of it the seal check decides;
- **baseline**: pyHanko's own validation — ``PdfFileReader`` + ``validate_pdf_signature`` with a
  ``ValidationContext`` that trusts the DEMO root and nothing else, no network — mapped onto the same categories:
  file not readable → ``indeterminate``; no signature → ``untrusted``; digest or signature value broken,
  coverage short of a whole revision, modifications beyond signature maintenance (DSS, document time-stamps),
  or validation raising → ``tampered``; signer not trusted → ``untrusted``; otherwise ``valid``.

Any difference fails the run (exit 1). One row is reported but not compared: a change of the zero padding after
the CMS in ``/Contents``, which nobody signs; pyHanko ignores it, ecert calls it tampered.

Then it times both over the tamper set: per file the median of ``--rounds`` rounds, and the mean of those medians
over the set. Prints, last, ``{"metric": "pdf_verify", "unit": "ms", "ecert", "baseline", "ratio"}`` with
ratio = baseline / ecert (higher is better; "no slower" is ratio >= 1).

    .venv/bin/python bench/verify.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import re
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import harness  # bench/harness.py (standard library only until used)

# The drill date (one clock for issuing, sealing and verifying); passed to the app, never set in the environment
# (the parity test imports this module).
TODAY = date.fromisoformat(os.environ.get("ECERT_TODAY", "2021-03-01"))

# ------------------------------------------------------------------------------------------- the tamper set


def byte_range(pdf: bytes) -> tuple[int, int, int, int]:
    m = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf)
    assert m is not None, "no /ByteRange"
    a, b, c, d = (int(g) for g in m.groups())
    return a, b, c, d


def flip(pdf: bytes, offset: int) -> bytes:
    out = bytearray(pdf)
    out[offset] ^= 0x01
    return bytes(out)


def flip_hex(pdf: bytes, offset: int) -> bytes:
    """Change one hex digit of /Contents into another hex digit (the file stays a well-formed PDF)."""
    out = bytearray(pdf)
    out[offset] = ord("1") if out[offset] != ord("1") else ord("2")
    return bytes(out)


def _object_offset(pdf: bytes, num: int, end: int) -> int:
    """Offset of the last ``num 0 obj`` before ``end`` (the signed revision's copy of the object)."""
    at = pdf.rfind(b"\n%d 0 obj" % num, 0, end)
    assert at >= 0, f"object {num} not found"
    return at + 1


def stream_byte(pdf: bytes, num: int, end: int, into: float = 0.5) -> int:
    """A byte ``into`` the way through the stream data of object ``num``."""
    at = _object_offset(pdf, num, end)
    start = pdf.index(b"stream", at) + len(b"stream")
    start += 2 if pdf[start : start + 2] == b"\r\n" else 1
    stop = pdf.index(b"endstream", start)
    return start + int((stop - start) * into)


@dataclass(frozen=True)
class Landmarks:
    """Objects of the sealed certificate, found through pyHanko (the renderer's layout is not assumed)."""

    page_contents: int
    font_file: int
    image: int | None


def landmarks(pdf: bytes) -> Landmarks:
    from pyhanko.pdf_utils.generic import DictionaryObject, IndirectObject, Reference, StreamObject
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    page = reader.root["/Pages"]["/Kids"][0].get_object()
    contents = page.raw_get("/Contents")
    if not isinstance(contents, IndirectObject):  # an array of streams: take the first
        contents = contents[0]
    font_file = image = None
    for m in re.finditer(rb"(?<![0-9])(\d+) 0 obj", pdf):
        num = int(m.group(1))
        obj = reader.get_object(Reference(num, 0))
        if not isinstance(obj, DictionaryObject):
            continue
        if font_file is None and obj.get("/Type") == "/FontDescriptor":
            for key in ("/FontFile2", "/FontFile3", "/FontFile"):
                if key in obj:
                    font_file = obj.raw_get(key).idnum
                    break
        if image is None and isinstance(obj, StreamObject) and obj.get("/Subtype") == "/Image":
            image = num
    assert font_file is not None, "no embedded font file"
    return Landmarks(page_contents=contents.idnum, font_file=font_file, image=image)


def original_revision(signed: bytes) -> bytes:
    """The document as rendered, before the seal's incremental update."""
    first_eof = signed.index(b"%%EOF") + len(b"%%EOF")
    while signed[first_eof : first_eof + 1] in (b"\r", b"\n"):
        first_eof += 1
    assert first_eof < len(signed), "the sealed file has one revision only"
    return signed[:first_eof]


def incremental(signed: bytes, edit: Callable[[Any], None]) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(io.BytesIO(signed), strict=False)
    edit(w)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def _add_annotation(w: Any) -> None:
    from pyhanko.pdf_utils import generic

    page_ref, _ = w.find_page_for_modification(0)
    page = page_ref.get_object()
    annot = w.add_object(
        generic.DictionaryObject(
            {
                generic.pdf_name("/Type"): generic.pdf_name("/Annot"),
                generic.pdf_name("/Subtype"): generic.pdf_name("/FreeText"),
                generic.pdf_name("/Rect"): generic.ArrayObject([generic.NumberObject(n) for n in (72, 600, 300, 640)]),
                generic.pdf_name("/Contents"): generic.TextStringObject("有效期延长至 2099 年"),
                generic.pdf_name("/DA"): generic.pdf_string("/Helv 12 Tf 0 g"),
            }
        )
    )
    page["/Annots"].get_object().append(annot)
    w.update_container(page)


def _overlay_page_content(w: Any) -> None:
    """Append an overlay stream to the page's content: new visible text over the sealed page."""
    from pyhanko.pdf_utils import generic

    page_ref, _ = w.find_page_for_modification(0)
    page = page_ref.get_object()
    overlay = w.add_object(generic.StreamObject(stream_data=b"q BT /Helv 24 Tf 100 500 Td (VALID UNTIL 2099) Tj ET Q"))
    old = page.raw_get("/Contents")
    page[generic.pdf_name("/Contents")] = generic.ArrayObject([*(old if isinstance(old, list) else [old]), overlay])
    w.update_container(page)


def _forge_info_qr(w: Any) -> None:
    """Give the document information another QR text in an update (the signed revision keeps its own)."""
    from pyhanko.pdf_utils import generic

    ref = w.trailer.raw_get("/Info")
    ref.get_object()[generic.pdf_name("/EcertQR")] = generic.TextStringObject("HTTPS://FORGED.EXAMPLE/V/AAAA")
    w.mark_update(ref)


def _unlink_signature(w: Any) -> None:
    """Drop the seal's field from the form and its widget from the page (the signature bytes stay in the file)."""
    from pyhanko.pdf_utils import generic

    root = w.root
    del root["/AcroForm"]
    w.update_root()
    page_ref, _ = w.find_page_for_modification(0)
    page = page_ref.get_object()
    page[generic.pdf_name("/Annots")] = generic.ArrayObject()
    w.update_container(page)


def _add_dss(signed: bytes, root_der: bytes) -> bytes:
    """A benign update: a Document Security Store with the root certificate (PAdES B-LT maintenance)."""
    from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped]
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    sig = PdfFileReader(io.BytesIO(signed), strict=False).embedded_signatures[0]
    buf = io.BytesIO(signed)
    DocumentSecurityStore.add_dss(buf, sig.pkcs7_content, certs=[asn1_x509.Certificate.load(root_der)])
    return buf.getvalue()


def _shift_byte_range(signed: bytes, delta: int) -> bytes:
    m = re.search(rb"/ByteRange\s*\[([^\]]*)\]", signed)
    assert m is not None
    a, b, c, d = (int(x) for x in m.group(1).split())
    text = b"%d %d %d %d" % (a, b + delta, c, d)
    width = len(m.group(1))
    assert len(text) <= width
    return signed[: m.start(1)] + text.ljust(width) + signed[m.end(1) :]


def _padding_changed(signed: bytes) -> bytes:
    _, _, second, _ = byte_range(signed)
    at = second - 10  # inside the zero padding at the end of /Contents
    assert signed[at : at + 1] == b"0"
    return signed[:at] + b"1" + signed[at + 1 :]


def _info_value_byte(signed: bytes, key: bytes, end: int) -> int:
    at = signed.rfind(key, 0, end)
    assert at >= 0, key
    return at + len(key) + 40


def build_tamper_set(
    signed: bytes,
    *,
    root_der: bytes,
    foreign_seal: Callable[[bytes], bytes],
    intruder_seal: Callable[[bytes], bytes],
) -> dict[str, bytes]:
    """File name → bytes. ``foreign_seal`` seals a document with a self-signed key nobody trusts; ``intruder_seal``
    adds a second signature on top of the seal."""
    first, first_len, second, _ = byte_range(signed)
    assert first == 0 and second > first_len
    marks = landmarks(signed)
    unsigned = original_revision(signed)
    files: dict[str, bytes] = {
        "intact": signed,
        "flip: page content stream": flip(signed, stream_byte(signed, marks.page_contents, first_len)),
        "flip: QR text in signed metadata": flip(signed, _info_value_byte(signed, b"/EcertQR", first_len)),
        "flip: printed content in signed metadata": flip(signed, _info_value_byte(signed, b"/EcertContent", first_len)),
        "flip: embedded font": flip(signed, stream_byte(signed, marks.font_file, first_len, 0.3)),
        "flip: CMS signature value in /Contents": flip_hex(signed, first_len + 1 + _cms_hex_len(signed) - 12),
        "flip: CMS signer certificate in /Contents": flip_hex(signed, first_len + 400),
        "flip: CMS signed attributes in /Contents": flip_hex(signed, first_len + 1 + _cms_hex_len(signed) - 300),
        "update: annotation added": incremental(signed, _add_annotation),
        "update: overlay content on the page": incremental(signed, _overlay_page_content),
        "update: counter-signed by another key": intruder_seal(signed),
        "update: DSS added (benign)": _add_dss(signed, root_der),
        "update: signature unlinked from the form": incremental(signed, _unlink_signature),
        "update: QR text in the document information replaced": incremental(signed, _forge_info_qr),
        "/ByteRange shortened": _shift_byte_range(signed, -2),
        "/ByteRange lengthened": _shift_byte_range(signed, +2),
        "truncated: half": signed[: len(signed) // 2],
        "truncated: last 30 bytes": signed[:-30],
        "re-sealed with a foreign self-signed key": foreign_seal(unsigned),
        "unsigned (the page as rendered)": unsigned,
        "garbage": b"\x00\xffnot a pdf at all\n" * 64,
        "empty": b"",
        "PDF header, then garbage": b"%PDF-1.7\n" + b"\x8f junk \x00" * 200,
    }
    if marks.image is not None:
        files["flip: signature image"] = flip(signed, stream_byte(signed, marks.image, first_len))
    return files


# Reported, not compared: ecert checks something pyHanko does not.
STRICTER = {"/Contents zero padding changed (unsigned bytes)": _padding_changed}


def _cms_hex_len(signed: bytes) -> int:
    from asn1crypto import parser as asn1_parser

    _, first_len, second, _ = byte_range(signed)
    raw = bytes.fromhex(signed[first_len + 1 : second - 1].decode())
    _, _, _, header, contents, trailer = asn1_parser.parse(raw)
    return 2 * (len(header) + len(contents) + len(trailer))


# --------------------------------------------------------------------------------------------- the verdicts


def baseline_verdict(pdf: bytes, trust_roots: list[Any], moment: datetime) -> str:
    """pyHanko's own validation of the first signature, mapped onto ecert's categories (see the module doc)."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    try:
        sigs = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures
    except Exception:
        return "indeterminate"
    if not sigs:
        return "untrusted"
    try:
        vc = ValidationContext(trust_roots=trust_roots, moment=moment, allow_fetching=False)
        status = validate_pdf_signature(sigs[0], signer_validation_context=vc)
    except Exception:
        return "tampered"
    if not (status.intact and status.valid):
        return "tampered"
    if status.coverage is None or status.coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        return "tampered"
    if status.modification_level is None or status.modification_level > ModificationLevel.LTA_UPDATES:
        return "tampered"
    if status.docmdp_ok is False:
        return "tampered"
    if not status.trusted:
        return "untrusted"
    return "valid"


def signature_verdict(verdict: Any) -> str:
    """What ``verify_pdf`` concludes from the seal check alone (its first steps, in its order)."""
    if not verdict.readable:
        return "indeterminate"
    if not verdict.signed:
        return "untrusted"
    if not verdict.intact or verdict.modified_after_signing:
        return "tampered"
    if not verdict.trusted:
        return "untrusted"
    return "valid"


# ----------------------------------------------------------------------------------------------- the setup


@dataclass
class Setup:
    work: Path
    app: Any
    signed: bytes
    root_der: bytes
    trust_roots_asn1: list[Any]
    files: dict[str, bytes]
    stricter: dict[str, bytes]


def _self_signed_signer(work: Path) -> Any:
    """A seal key and self-signed certificate with the ministry's seal name: trusted by nobody."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from ecert.adapters.signing import pki
    from ecert.adapters.signing.keys import SealKeyConfig, load_signer

    key = ec.generate_private_key(ec.SECP256R1())
    name = pki.seal_subject()
    now = datetime(2020, 1, 1, tzinfo=UTC)
    cert = (
        pki.certificate_builder(name, name, key.public_key(), (now, now + timedelta(days=3650)))
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    d = work / "foreign"
    d.mkdir()
    (d / "key.pem").write_bytes(pki.key_pem(key))
    (d / "cert.pem").write_bytes(pki.cert_pem(cert))
    return load_signer(SealKeyConfig.pem(d / "key.pem", d / "cert.pem"))


def setup(work: Path, holders: int = 40) -> Setup:
    """A DEMO registry in ``work``, one certificate issued today, and the tamper set built from it."""
    from asn1crypto import x509 as asn1_x509

    from ecert.adapters import keystore
    from ecert.adapters.db.engine import upgrade
    from ecert.adapters.sealing import PadesSealer
    from ecert.adapters.signing.pades import sign_pdf
    from ecert.bootstrap import bootstrap
    from ecert.config import Settings
    from ecert.services.demo import seed_demo

    keys = keystore.key_settings_from_env({"ECERT_KEYS_DIR": str(work / "keys")})
    app = bootstrap(Settings(database_url=f"sqlite:///{work / 'v.db'}", today_override=TODAY), keys=keys)
    upgrade(app.engine)
    keystore.ensure_keys(keys)
    seed_demo(app.uow, holders, seed=7, today=TODAY, now=app.clock.now(), signatures=holders)
    with app.uow() as uow:
        numbers = uow.registry.sample_numbers(holders)
    signed = None
    for no in numbers:
        try:
            issued = harness.issue(app, no, TODAY)
        except Exception:  # this holder cannot download today (R-USE-4): take the next
            continue
        signed = issued.pdf
        break
    assert signed is not None, "no demo holder can download today"
    roots = keystore.trust_roots(keys)
    from cryptography.hazmat.primitives.serialization import Encoding

    root_ders = [r.public_bytes(Encoding.DER) for r in roots]
    foreign = PadesSealer(_self_signed_signer(work))
    seal_time = app.clock.now()

    def intruder(pdf: bytes) -> bytes:
        return sign_pdf(pdf, foreign.signer, signing_time=seal_time, field_name="Other")

    files = build_tamper_set(
        signed,
        root_der=root_ders[0],
        foreign_seal=lambda pdf: foreign.seal(pdf, seal_time),
        intruder_seal=intruder,
    )
    return Setup(
        work=work,
        app=app,
        signed=signed,
        root_der=root_ders[0],
        trust_roots_asn1=[asn1_x509.Certificate.load(d) for d in root_ders],
        files=files,
        stricter={name: make(signed) for name, make in STRICTER.items()},
    )


def ecert_verify(s: Setup, pdf: bytes) -> Any:
    from ecert.testing import verify_pdf

    return verify_pdf(s.app, pdf)


def compare(s: Setup) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of the verdict table and the names of files whose verdicts differ."""
    moment = s.app.clock.now()
    rows, differ = [], []
    for name, pdf in {**s.files, **s.stricter}.items():
        base = baseline_verdict(pdf, s.trust_roots_asn1, moment)
        sig = signature_verdict(s.app.signature_checker(pdf, moment))
        full = ecert_verify(s, pdf).status
        compared = name not in s.stricter
        same = sig == base and full == base
        rows.append({"file": name, "bytes": len(pdf), "baseline": base, "ecert_seal": sig, "ecert": full,
                     "compared": compared, "same": same})  # fmt: skip
        if compared and not same:
            differ.append(name)
    return rows, differ


# -------------------------------------------------------------------------------------------------- timing


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--holders", type=int, default=40)
    args = ap.parse_args()

    def median_ms(fn: Callable[[], object]) -> float:
        return statistics.median(harness.times_ms(lambda _: fn(), args.rounds))

    # bench/http.py would shadow the standard library's http package (aiohttp, under pyHanko, imports it): drop
    # this folder from the import path; everything past the standard library is imported after this line.
    sys.path[:] = [p for p in sys.path if p not in ("", os.path.dirname(os.path.abspath(__file__)))]
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)  # tampered files make pyHanko log tracebacks
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, like the other benches
    work = Path(tempfile.mkdtemp(prefix="ecert-bench-verify-"))
    try:
        s = setup(work, args.holders)
        rows, differ = compare(s)
        width = max(len(r["file"]) for r in rows)
        print(f"{'file':<{width}}  {'baseline':<13} {'ecert seal':<13} {'ecert':<13} same", flush=True)
        for r in rows:
            mark = ("yes" if r["same"] else "NO") if r["compared"] else "(not compared: ecert is stricter)"
            print(f"{r['file']:<{width}}  {r['baseline']:<13} {r['ecert_seal']:<13} {r['ecert']:<13} {mark}")
        if differ:
            print(json.dumps({"error": "verdicts differ", "files": differ}), flush=True)
            return 1

        moment = s.app.clock.now()
        for pdf in s.files.values():  # warm-up: imports, caches, the learned seal certificate
            ecert_verify(s, pdf)
            baseline_verdict(pdf, s.trust_roots_asn1, moment)
        per_file = []
        for name, pdf in s.files.items():
            e = median_ms(lambda pdf=pdf: ecert_verify(s, pdf))  # type: ignore[misc]
            b = median_ms(lambda pdf=pdf: baseline_verdict(pdf, s.trust_roots_asn1, moment))  # type: ignore[misc]
            per_file.append({"file": name, "ecert_ms": round(e, 3), "baseline_ms": round(b, 3)})
            print(json.dumps(per_file[-1], ensure_ascii=False), flush=True)
        em = statistics.fmean(r["ecert_ms"] for r in per_file)
        bm = statistics.fmean(r["baseline_ms"] for r in per_file)
        harness.print_metric("pdf_verify", "ms", em, bm, 3)
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
