"""Benchmark: issuing and verifying an OFD certificate (issue 12 item 7; R-DOC-6), against the obvious route.

In one run, on one core, for holders of a temporary registry, measures

- **ecert issue**: the real issue path — ``services.issuance.issue(..., formats=("ofd",))``: rules, content,
  QR token, the OFD painted and sealed SM2/SM3 (``OfdMaker``: ``ofd_files`` + ``OfdSealer.seal_files``), the
  issuance record and audit event committed to SQLite; and, reported beside it, ``OfdMaker.make`` alone
  (render + seal, no database);
- **ecert verify**: the real verification — ``services.verification.verify_pdf`` with the app's OFD checker
  (every file's SM3, the SM2 signature, the seal and its maker, the chain to the SM2 root; then the sealed
  metadata, the QR binding, the issuance record, the registry state); *warm*: the app's checker, whose caches
  already hold the seal maker's signature on the seal and the root's on the seal certificate (one SM2
  verification a file: a running service), and *cold*: a new checker each time (three SM2 verifications);
  and, reported beside it, the seal check alone;
- **baseline issue**: the same certificate as ecert's own unsealed PDF (the app's renderer, under 1 ms: the
  baseline pays no more for the page than ecert), converted by ``easyofd`` (``OFD().pdf2ofd`` with its
  defaults: the page as one picture, in a fresh working folder since it writes ``./test``), then every file
  of the converted package read and digested with SM3 (the system OpenSSL, as ecert: the pure-Python SM3
  of ``gmssl`` would take seconds for a package), a manifest of the digests (``Signature.xml``), one
  SM2-with-SM3 signature over it by the pure-Python ``gmssl`` (``CryptSM2.sign_with_sm3``, as its README
  shows; the nonce from ``secrets``), and both files appended to the converter's zip; no database;
- **baseline verify**: unzip, SM3 of every file against the manifest, no file left uncovered, and
  ``gmssl``'s ``verify_with_sm3`` of the signature (*warm*: that one SM2 verification, against the pinned
  seal key; *cold*: also the seal maker's signature on the seal and the root's on the seal certificate, the
  same three SM2 verifications ecert does cold); no database.

``gmssl``'s ``sign_with_sm3`` / ``verify_with_sm3`` hash ``Z ‖ M`` in its own pure-Python SM3. The *sm2 only*
figures of the per-run line compute that digest with OpenSSL's SM3 and leave only the curve arithmetic to
``gmssl`` (``CryptSM2.sign`` / ``verify``): the least any baseline on pure-Python SM2 can cost.

The other converter on PyPI, ``pdf2ofd`` (vector paths, text turned into outlines), is timed in the checks
and reported; ``easyofd``'s default is the faster of the two that keep the QR code and the seal on the page
(``easyofd``'s ``optional_text=True`` keeps neither), so it is the baseline.

The keys are made for the run and shaped like production ones (no OU=DEMO): the page is a production
certificate's. ``--demo`` runs on the DEMO keys ``ecert init`` makes instead, whose certificates carry the
DEMO mark across the page (in OFD, paths: a 2 MB page).

Before anything is timed, both outputs are checked: ecert's package verifies ``valid``, and a flipped byte
in its page makes it ``tampered``; the baseline's verifies, its signature verifies with GmSSL (``gmssl-pyx``,
an independent SM2), the converted page still scans to the certificate's QR text (zxing-cpp), and a
flipped byte in its page makes its verification fail.

Prints per-run JSON, and last one line ``{"metric": "ofd", "unit": "ms", "ecert", "baseline", "verify_ecert",
"verify_baseline", "verify_ratio", "ratio"}``: median ms per certificate; ``ecert`` / ``baseline`` and ``ratio``
(= baseline / ecert, higher is better) for the issue, ``verify_*`` for the warm verification.

    .venv/bin/python bench/ofd.py [--n 200] [--baseline-n 20] [--demo]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import io
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import harness  # bench/harness.py (standard library only until used)

# The drill date (one clock for issuing, sealing and verifying); passed to the app, never set in the environment
# (tests import this module).
TODAY = date.fromisoformat(os.environ.get("ECERT_TODAY", "2021-03-01"))

OFD_NS = "http://www.ofdspec.org/2016"
MANIFEST = "Doc_0/Signs/Sign_0/Signature.xml"
SIGNED_VALUE = "Doc_0/Signs/Sign_0/SignedValue.dat"
SM3_OID = "1.2.156.10197.1.401"
SM2_WITH_SM3_OID = "1.2.156.10197.1.501"
USER_ID = b"1234567812345678"  # GB/T 35276's default signer ID, as ecert and OpenSSL use it

# ------------------------------------------------------------------------------------------------ the baseline


def _sm3(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


@contextlib.contextmanager
def _scratch_cwd() -> Iterator[str]:
    """A fresh, empty working folder for the converter (easyofd writes ``./test`` and ``test.ofd`` there and
    refuses to run where ``./test`` exists), removed afterwards; its prints silenced."""
    old = os.getcwd()
    work = tempfile.mkdtemp(prefix="ecert-bench-easyofd-")
    os.chdir(work)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield work
    finally:
        os.chdir(old)
        shutil.rmtree(work, ignore_errors=True)


def _easyofd() -> Any:
    """easyofd's ``OFD`` class, imported quietly: its module puts the working folder and ``..`` on the import
    path (undone here) and it logs through loguru (disabled for it)."""
    from loguru import logger

    logger.disable("easyofd")  # before the import: it warns about every Windows font it cannot find
    saved = list(sys.path)
    try:
        with _scratch_cwd():
            from easyofd.ofd import OFD  # type: ignore[import-untyped]
    finally:
        sys.path[:] = saved
    return OFD


def convert_easyofd(pdf: bytes) -> bytes:
    """``pdf`` converted to an OFD package by easyofd, with its defaults (the page rendered as one picture)."""
    ofd_class = _easyofd()
    with _scratch_cwd():
        return bytes(ofd_class().pdf2ofd(pdf))


def convert_pdf2ofd(pdf: bytes) -> bytes:
    """``pdf`` converted to an OFD package by pdf2ofd (vector paths; it reads and writes files)."""
    import pdf2ofd  # type: ignore[import-untyped]

    with tempfile.TemporaryDirectory(prefix="ecert-bench-pdf2ofd-") as work:
        src, dst = Path(work) / "in.pdf", Path(work) / "out.ofd"
        src.write_bytes(pdf)
        pdf2ofd.convert(str(src), str(dst), verbose=False)
        return dst.read_bytes()


CONVERTERS: dict[str, Callable[[bytes], bytes]] = {"easyofd": convert_easyofd, "pdf2ofd": convert_pdf2ofd}


@dataclass(frozen=True)
class GmsslKey:
    """An SM2 key for the pure-Python ``gmssl``: 32-byte private scalar (empty: verify only), 64-byte public x ‖ y.
    ``sm2_only``: hash ``Z ‖ M`` with OpenSSL's SM3 instead of gmssl's own (only the curve arithmetic is
    pure Python)."""

    private: bytes
    public: bytes
    sm2_only: bool = False

    def _crypt(self) -> Any:
        from gmssl.sm2 import CryptSM2  # type: ignore[import-untyped]

        crypt = CryptSM2(private_key=self.private.hex(), public_key=self.public.hex(), asn1=True)
        crypt.public_key = self.public.hex()  # its constructor strips leading "0" and "4" digits, not a "04" prefix
        return crypt

    def _e(self, crypt: Any, message: bytes) -> bytes:
        """SM3(Z ‖ M) with OpenSSL's SM3, Z over the default user ID (GB/T 32918.2)."""
        t = crypt.ecc_table
        z = _sm3(len(USER_ID * 8).to_bytes(2, "big") + USER_ID + bytes.fromhex(t["a"] + t["b"] + t["g"]) + self.public)
        return _sm3(z + message)

    def sign(self, message: bytes) -> bytes:
        """DER ``SEQUENCE {r, s}``."""
        crypt = self._crypt()
        nonce = secrets.token_hex(32)  # gmssl's default nonce comes from ``random``, not a secure source
        out = crypt.sign(self._e(crypt, message), nonce) if self.sm2_only else crypt.sign_with_sm3(message, nonce)
        return bytes.fromhex(out)

    def verify(self, message: bytes, signature: bytes) -> bool:
        crypt = self._crypt()
        try:
            if self.sm2_only:
                return bool(crypt.verify(signature.hex(), self._e(crypt, message)))
            return bool(crypt.verify_with_sm3(signature.hex(), message))
        except Exception:  # malformed DER
            return False


def _files(package: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(package)) as z:
        return {i.filename: z.read(i) for i in z.infolist() if not i.is_dir()}


def baseline_seal(package: bytes, key: GmsslKey) -> bytes:
    """``package`` (a converter's zip) with a manifest of the SM3 of each of its files and an SM2 signature over
    the manifest appended (the existing entries are not recompressed)."""
    from xml.sax.saxutils import escape  # imports http.client: not before main() drops this folder from the path

    refs = "".join(
        f'<ofd:Reference FileRef="/{escape(name)}"><ofd:CheckValue>{base64.b64encode(_sm3(data)).decode()}'
        "</ofd:CheckValue></ofd:Reference>"
        for name, data in _files(package).items()
    )
    manifest = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Signature xmlns:ofd="{OFD_NS}"><ofd:SignedInfo>'
        f"<ofd:SignatureMethod>{SM2_WITH_SM3_OID}</ofd:SignatureMethod>"
        f'<ofd:References CheckMethod="{SM3_OID}">{refs}</ofd:References></ofd:SignedInfo>'
        f"<ofd:SignedValue>/{SIGNED_VALUE}</ofd:SignedValue></ofd:Signature>"
    ).encode()
    out = io.BytesIO(package)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as z:
        z.writestr(MANIFEST, manifest)
        z.writestr(SIGNED_VALUE, key.sign(manifest))
    return out.getvalue()


def baseline_issue(pdf: bytes, key: GmsslKey, convert: Callable[[bytes], bytes] = convert_easyofd) -> bytes:
    """The obvious route: ``pdf`` converted to OFD, then signed (:func:`baseline_seal`)."""
    return baseline_seal(convert(pdf), key)


def baseline_verify(package: bytes, key: GmsslKey, extra: tuple[tuple[GmsslKey, bytes, bytes], ...] = ()) -> bool:
    """Whether every file of ``package`` has its SM3 in the signed manifest and the signature by ``key`` holds;
    ``extra``: (key, message, signature) more SM2 signatures to check (the seal maker's, the root's)."""
    try:
        files = _files(package)
        manifest = files.pop(MANIFEST)
        signature = files.pop(SIGNED_VALUE)
        ns = {"ofd": OFD_NS}
        refs = ET.fromstring(manifest).findall("ofd:SignedInfo/ofd:References/ofd:Reference", ns)
        listed = {r.get("FileRef", "").lstrip("/"): r.findtext("ofd:CheckValue", "", ns) for r in refs}
    except Exception:  # not a zip, no manifest, bad XML
        return False
    if set(listed) != set(files):
        return False
    if any(base64.b64decode(listed[name]) != _sm3(data) for name, data in files.items()):
        return False
    return key.verify(manifest, signature) and all(k.verify(m, s) for k, m, s in extra)


# ------------------------------------------------------------------------------------------------ ecert's side


@dataclass(frozen=True)
class Holder:
    """A holder who may download today, and what issuance had for them: content, QR text, images."""

    number: str
    content: Any  # CertificateContent
    qr: str
    signature_png: bytes
    photo: bytes | None

    @property
    def metadata(self) -> dict[str, str]:
        return {"EcertContent": self.content.canonical_json().decode("utf-8"), "EcertQR": self.qr}


def ecert_issue(app: Any, h: Holder) -> bytes:
    """The real issuance of ``h``'s certificate as an OFD (render + seal + record)."""
    return bytes(harness.issue(app, h.number, TODAY, formats=("ofd",)).ofd)


def ecert_make(app: Any, h: Holder) -> bytes:
    """Render + seal alone: the issuance's ``OfdMaker.make``, with ``h``'s content, QR text and images."""
    made = app.documents.ofd.make(
        h.content, qr_text=h.qr, signature_image=h.signature_png, photo=h.photo, metadata=h.metadata,
        signing_time=app.clock.now(),
    )  # fmt: skip
    return bytes(made)


def ecert_verify(app: Any, package: bytes, *, cold: bool = False) -> Any:
    """The real verification of ``package`` (a ``VerificationResult``); ``cold``: with a new OFD checker."""
    from ecert.adapters import keystore
    from ecert.adapters.sealing import OfdChecker
    from ecert.services import verification

    checker = OfdChecker(keystore.sm2_trust_roots(app.keys)) if cold else app.ofd_checker
    return verification.verify_pdf(
        app.uow(), package, check_signature=app.signature_checker, check_ofd=checker, keys=app.qr_public_keys,
        today=app.clock.today(), now=app.clock.now(), policy=app.policy,
    )  # fmt: skip


# ------------------------------------------------------------------------------------------------ the keys


def production_like_keys(directory: Path) -> dict[str, str]:
    """``ECERT_*`` variables for throwaway keys shaped like production ones, no OU=DEMO anywhere (so no DEMO
    mark): a PDF seal (P-256) under a root, and an SM2 root (the seal maker), an SM2 seal certificate under it
    and the electronic seal the maker made for it; all valid 2020–2040, like the DEMO ones."""
    from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped]
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from ecert.adapters.documents import default_fonts
    from ecert.adapters.documents.ofd_render import seal_picture
    from ecert.adapters.documents.page import MM, SEAL_RADIUS_MM
    from ecert.adapters.signing import pki, sm2
    from ecert.adapters.signing.ofd_seal import make_seal
    from ecert.domain.certificate import ISSUER, SEAL_NAME

    directory.mkdir(parents=True)
    start, end = datetime(2020, 1, 1, tzinfo=UTC), datetime(2040, 1, 1, tzinfo=UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                           x509.NameAttribute(NameOID.COMMON_NAME, "Bench Seal Root CA")])  # fmt: skip
    root = (
        pki.certificate_builder(root_name, root_name, root_key.public_key(), (start, end))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    seal_key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            pki._name_attribute(NameOID.ORGANIZATION_NAME, ISSUER),
            pki._name_attribute(NameOID.COMMON_NAME, SEAL_NAME),
        ]
    )  # fmt: skip  (81 bytes: pki allows it)
    cert = pki.issue_certificate((root, root_key), seal_key.public_key(), subject, pki.SEAL_EKUS)

    sm2_root_key, sm2_seal_key = sm2.Sm2Key.generate(), sm2.Sm2Key.generate()
    sm2_root_name = asn1_x509.Name.build({"country_name": "CN", "common_name": "Bench SM2 Root CA"})
    sm2_seal_name = asn1_x509.Name.build(
        {"country_name": "CN", "organization_name": ISSUER, "common_name": SEAL_NAME}, use_printable=False
    )
    sm2_root = sm2.make_certificate(
        subject=sm2_root_name, key=sm2_root_key, issuer=None, issuer_key=sm2_root_key,
        serial=1, not_before=start, not_after=end, ca=True,
    )  # fmt: skip
    sm2_seal = sm2.make_certificate(
        subject=sm2_seal_name, key=sm2_seal_key, issuer=sm2_root, issuer_key=sm2_root_key,
        serial=2, not_before=start, not_after=end, ca=False,
    )  # fmt: skip
    seal = make_seal(
        es_id="bench-seal-1", picture_png=seal_picture(SEAL_RADIUS_MM * MM, default_fonts()), signer_cert=sm2_seal,
        maker_key=sm2_root_key, maker_cert=sm2_root, valid_start=start, valid_end=end,
    )  # fmt: skip
    files = {
        "ECERT_SEAL_KEY": ("seal-key.pem", pki.key_pem(seal_key)),
        "ECERT_SEAL_CERT": ("seal-cert.pem", pki.cert_pem(cert)),
        "ECERT_TRUST_ROOTS": ("root-cert.pem", pki.cert_pem(root)),
        "ECERT_SM2_SEAL_KEY": ("sm2-seal-key.pem", sm2_seal_key.to_pem()),
        "ECERT_SM2_SEAL_CERT": ("sm2-seal-cert.pem", sm2.certificate_pem(sm2_seal)),
        "ECERT_SM2_SEAL": ("sm2-seal.esl", seal.dump()),
        "ECERT_SM2_TRUST_ROOTS": ("sm2-root-cert.pem", sm2.certificate_pem(sm2_root)),
    }
    env = {"ECERT_KEYS_DIR": str(directory / "keys")}
    for var, (name, data) in files.items():
        (directory / name).write_bytes(data)
        env[var] = str(directory / name)
    return env


# ------------------------------------------------------------------------------------------------ the checks


def flip_in(package: bytes, name: str, at: float = 0.5) -> bytes:
    """``package`` re-zipped with one byte of the file ``name`` changed, ``at`` the way through it."""
    files = _files(package)
    data = bytearray(files[name])
    data[int(len(data) * at)] ^= 0x01
    files[name] = bytes(data)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in files.items():
            z.writestr(n, d)
    return out.getvalue()


def page_picture_qr(package: bytes) -> str | None:
    """The QR text zxing-cpp reads off the biggest picture of a converted package (easyofd's page image)."""
    import zxingcpp
    from PIL import Image

    files = _files(package)
    name = max((n for n in files if n.startswith("Doc_0/Res/")), key=lambda n: len(files[n]), default=None)
    if name is None:
        return None
    with Image.open(io.BytesIO(files[name])) as im:
        found = zxingcpp.read_barcodes(im.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    return found[0].text if found else None


# ------------------------------------------------------------------------------------------------ the setup


@dataclass
class Setup:
    work: Path
    app: Any
    holders: list[Holder]
    render_pdf: Callable[[Holder], bytes]  # ecert's unsealed PDF, the baseline's starting point
    base_key: GmsslKey  # the SM2 seal key, for gmssl
    cold_extra: tuple[tuple[GmsslKey, bytes, bytes], ...]  # the seal maker's and the root's signatures

    @property
    def base_pub(self) -> GmsslKey:
        return GmsslKey(b"", self.base_key.public)


def setup(work: Path, holders: int = 40, *, demo: bool = False) -> Setup:
    """A registry of ``holders`` synthetic holders in ``work`` (their content, QR text and images: one OFD
    issued to each who may download today), on production-like keys (``demo``: the DEMO keys)."""
    from asn1crypto import x509 as asn1_x509

    from ecert.adapters import keystore
    from ecert.adapters.db.engine import upgrade
    from ecert.adapters.signing import ses
    from ecert.adapters.signing.ofd_seal import _der_children, custom_data, unpack
    from ecert.adapters.signing.sm2 import Sm2Key, load_certificate
    from ecert.bootstrap import bootstrap
    from ecert.config import Settings
    from ecert.domain.certificate import CertificateContent
    from ecert.domain.errors import EcertError
    from ecert.services.demo import seed_demo

    env = {"ECERT_KEYS_DIR": str(work / "keys")} if demo else production_like_keys(work / "production")
    keys = keystore.key_settings_from_env(env)
    app = bootstrap(Settings(database_url=f"sqlite:///{work / 'o.db'}", today_override=TODAY), keys=keys)
    upgrade(app.engine)
    keystore.ensure_keys(keys)
    assert app.demo_seal == demo and app.documents.ofd is not None, (app.demo_seal, app.documents.ofd_problem)
    seed_demo(app.uow, holders, seed=7, today=TODAY, now=app.clock.now(), signatures=holders)
    found: list[Holder] = []
    with app.uow() as uow:
        numbers = uow.registry.sample_numbers(holders)
    for no in numbers:
        try:
            package = ecert_issue(app, Holder(no, None, "", b"", None))
        except EcertError:  # this holder cannot download today (R-USE-4)
            continue
        files = unpack(package)
        assert isinstance(files, dict)
        meta = custom_data(files)
        assert meta is not None
        with app.uow() as uow:
            images = uow.certificates.images(no)
        content = CertificateContent.from_dict(json.loads(meta["EcertContent"]))
        found.append(Holder(no, content, meta["EcertQR"], images["signature"], images.get("photo")))
    assert len(found) >= 5, "too few issuable holders"

    cfg = keystore.sm2_seal_config(keys)
    key, cert = Sm2Key.from_pem(cfg.key.read_bytes()), load_certificate(cfg.cert.read_bytes())
    seal_der = cfg.seal.read_bytes()
    seal = ses.SESeal.load(seal_der)
    maker = GmsslKey(b"", bytes(asn1_x509.Certificate.load(seal["cert"].native).public_key["public_key"])[1:])
    (root,) = keystore.sm2_trust_roots(keys)
    cold_extra = (
        (maker, _der_children(seal_der)[0], bytes(seal["signed_value"])),  # the maker's signature on the seal
        (GmsslKey(b"", bytes(root.public_key["public_key"])[1:]), cert["tbs_certificate"].dump(),
         bytes(cert["signature_value"])),  # the root's on the seal certificate
    )  # fmt: skip
    renderer = app.documents.renderer

    def render_pdf(h: Holder) -> bytes:
        return bytes(
            renderer.render(
                h.content, qr_text=h.qr, signature_image=h.signature_png, photo=h.photo, metadata=h.metadata
            )
        )

    return Setup(work, app, found, render_pdf, GmsslKey(key.private, key.public), cold_extra)


def check(s: Setup) -> dict[str, Any]:
    """Both sides' outputs accepted, and a flipped byte refused, before anything is timed (AssertionError if not)."""
    from ecert.adapters.signing.sm2 import sm2_verify

    h = s.holders[0]
    ours = ecert_issue(s.app, h)
    seal_check = s.app.ofd_checker(ours, s.app.clock.now())
    verdicts = {
        "ecert": ecert_verify(s.app, ours).status,
        "ecert_cold": ecert_verify(s.app, ours, cold=True).status,
        "ecert_made": ecert_verify(s.app, ecert_make(s.app, h)).status,  # the same serial: a record exists
        "ecert_tampered": ecert_verify(s.app, flip_in(ours, "Doc_0/Pages/Page_0/Content.xml")).status,
    }
    assert seal_check.problem is None and seal_check.metadata is not None, seal_check
    assert verdicts == {"ecert": "valid", "ecert_cold": "valid", "ecert_made": "valid", "ecert_tampered": "tampered"}

    pdf = s.render_pdf(h)
    theirs = baseline_issue(pdf, s.base_key)
    files = _files(theirs)
    page = max((n for n in files if n.startswith("Doc_0/Res/")), key=lambda n: len(files[n]))
    refused = baseline_verify(flip_in(theirs, page), s.base_pub)
    assert baseline_verify(theirs, s.base_pub), "the baseline does not verify its own package"
    assert baseline_verify(theirs, s.base_pub, s.cold_extra), "the baseline's cold checks fail"
    assert not refused, "the baseline accepts a changed page"
    assert sm2_verify(s.base_key.public, files[MANIFEST], files[SIGNED_VALUE]), "GmSSL rejects gmssl's signature"
    qr = page_picture_qr(theirs)
    assert qr == h.qr, f"the converted page scans to {qr!r}"
    sm2_only = GmsslKey(s.base_key.private, s.base_key.public, sm2_only=True)
    assert baseline_verify(baseline_seal(convert_easyofd(pdf), sm2_only), s.base_pub), "sm2-only signature rejected"
    return {
        "check": "ok",
        "demo_mark": s.app.demo_seal,
        "ecert_bytes": len(ours),
        "baseline_bytes": len(theirs),
        **{k: str(v) for k, v in verdicts.items()},
        "baseline_verifies": True,
        "baseline_tampered_verifies": refused,
        "baseline_qr_scans": True,
    }


def converter_times(s: Setup) -> dict[str, float]:
    """Median ms of ecert's unsealed PDF and of each converter on it (the baseline's choice, see the module doc)."""
    pdf = s.render_pdf(s.holders[0])
    out = {"pdf_ms": round(statistics.median(harness.times_ms(lambda _: s.render_pdf(s.holders[0]), 20)), 2)}
    for name, convert in CONVERTERS.items():
        convert(pdf)  # warm-up
        ms = harness.times_ms(lambda _, convert=convert: convert(pdf), 5)  # type: ignore[misc]
        out[f"{name}_convert_ms"] = round(statistics.median(ms), 1)
    return out


# ----------------------------------------------------------------------------------------------------- timing


def measure(s: Setup, n: int, baseline_n: int) -> dict[str, float | int]:
    """Median ms of each figure (see the module doc), over ``n`` ecert runs and ``baseline_n`` baseline runs."""
    app, hs = s.app, s.holders
    ours = [ecert_issue(app, h) for h in hs]
    theirs = [baseline_issue(s.render_pdf(h), s.base_key) for h in hs[:5]]
    sm2_key = GmsslKey(s.base_key.private, s.base_key.public, sm2_only=True)
    sm2_pub = GmsslKey(b"", s.base_key.public, sm2_only=True)
    sm2_extra = tuple((GmsslKey(b"", k.public, sm2_only=True), m, sig) for k, m, sig in s.cold_extra)
    moment = app.clock.now()

    def mine(i: int) -> bytes:
        return ours[i % len(ours)]

    def base(i: int) -> bytes:
        return theirs[i % len(theirs)]

    figures: dict[str, Callable[[int], object]] = {
        "ecert_issue": lambda i: ecert_issue(app, hs[i % len(hs)]),
        "ecert_make": lambda i: ecert_make(app, hs[i % len(hs)]),
        "ecert_verify": lambda i: ecert_verify(app, mine(i)),
        "ecert_verify_cold": lambda i: ecert_verify(app, mine(i), cold=True),
        "ecert_seal_check": lambda i: app.ofd_checker(mine(i), moment),
        "baseline_issue": lambda i: baseline_issue(s.render_pdf(hs[i % len(hs)]), s.base_key),
        "baseline_verify": lambda i: baseline_verify(base(i), s.base_pub),
        "baseline_verify_cold": lambda i: baseline_verify(base(i), s.base_pub, s.cold_extra),
        "baseline_sm2_only_issue": lambda i: baseline_issue(s.render_pdf(hs[i % len(hs)]), sm2_key),
        "baseline_sm2_only_verify": lambda i: baseline_verify(base(i), sm2_pub),
        "baseline_sm2_only_verify_cold": lambda i: baseline_verify(base(i), sm2_pub, sm2_extra),
    }
    out: dict[str, float | int] = {}
    for name, fn in figures.items():
        runs = n if name.startswith("ecert") else baseline_n
        for i in range(min(10, runs)):  # warm-up
            fn(i)
        ms = harness.times_ms(fn, runs)
        out[f"{name}_ms"] = round(statistics.median(ms), 3)
        if name.startswith("ecert"):
            out[f"{name}_ms_p90"] = round(sorted(ms)[int(len(ms) * 0.9)], 3)
        out[f"n_{name}"] = runs
    # What was verified is still what it was: many issues later, each package still verifies valid.
    assert {str(ecert_verify(app, p).status) for p in ours} == {"valid"}
    assert all(baseline_verify(p, s.base_pub) for p in theirs)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--n", type=int, default=200, help="runs of each ecert figure")
    ap.add_argument("--baseline-n", type=int, default=20, help="runs of each baseline figure")
    ap.add_argument("--holders", type=int, default=40, help="synthetic holders in the registry")
    ap.add_argument("--demo", action="store_true", help="on the DEMO keys: the DEMO mark across the page")
    args = ap.parse_args()

    # bench/http.py would shadow the standard library's http package: drop this folder from the import path;
    # everything past the standard library is imported after this line.
    sys.path[:] = [p for p in sys.path if p not in ("", os.path.dirname(os.path.abspath(__file__)))]
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the issue asks
    work = Path(tempfile.mkdtemp(prefix="ecert-bench-ofd-"))
    try:
        s = setup(work, args.holders, demo=args.demo)
        print(json.dumps({**check(s), **converter_times(s)}), flush=True)
        f = measure(s, args.n, args.baseline_n)
        print(json.dumps({"demo_mark": args.demo, **f}), flush=True)
        harness.print_metric(
            "ofd",
            "ms",
            f["ecert_issue_ms"],
            f["baseline_issue_ms"],
            2,
            verify_ecert=round(f["ecert_verify_ms"], 2),
            verify_baseline=round(f["baseline_verify_ms"], 2),
            verify_ratio=round(f["baseline_verify_ms"] / f["ecert_verify_ms"], 2),
        )
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
