"""Verification of the OFD certificate beside the PDF of the same issuance (R-DOC-6, with R-DOC-2,
R-USE-3, R-CHG-1), through services.verification on SQLite and PostgreSQL.

One issuance gives both files (``formats=("pdf", "ofd")``). Each tamper of the PDF has its OFD twin,
and the two get the same verdict — status and reason codes: the OFD is judged by the PDF's rules,
its seal check mapped onto the PDF's (adapters/signing/ofd_seal.py → services/verification.py). What
only an OFD package can suffer (a swapped SignedValue.dat, a replaced seal picture, a missing file, a
path escaping the package, a zip bomb, a broken zip) gets its own clear verdict, never an exception.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import Engine

from ecert.adapters import keystore
from ecert.adapters.documents import default_fonts
from ecert.adapters.documents.ofd_render import zip_package
from ecert.adapters.pdf_inspect import signed_metadata
from ecert.adapters.sealing import OfdMaker, PadesSealer
from ecert.adapters.signing import pki, sm2
from ecert.adapters.signing.keys import SealKeyConfig, load_signer
from ecert.adapters.signing.ofd_seal import SIGNED_VALUE, SIGNS_DIR, OfdSealer, make_seal
from ecert.bootstrap import App, bootstrap
from ecert.config import Settings
from ecert.domain.certificate import CertificateContent
from ecert.services import changes, issuance, verification
from ecert.services.demo import seed_demo
from helpers_cli import USCC_B
from helpers_documents import issue_to_a_demo_holder, package_files, with_escaping_path, zip_bomb
from helpers_signing import add_annotation_after_signing, byte_ranges, flip_byte

TODAY = date(2021, 3, 1)
CONTENT_XML = "Doc_0/Pages/Page_0/Content.xml"
SEAL_PNG = "Doc_0/Res/seal.png"
Verdict = tuple[str, list[str]]


@dataclass
class Env:
    core: App
    tmp: Path


@pytest.fixture
def env(db_url: str, engine: Engine, tmp_path: Path) -> Env:
    keys = keystore.key_settings_from_env({"ECERT_KEYS_DIR": str(tmp_path / "keys")})
    keystore.ensure_keys(keys)
    core = bootstrap(Settings(database_url=db_url, today_override=TODAY), engine=engine, keys=keys)
    seed_demo(core.uow, 30, seed=2021, today=TODAY, now=core.clock.now(), signatures=30)
    return Env(core, tmp_path)


def _verdict(core: App, data: bytes, today: date = TODAY) -> Verdict:
    now = datetime.combine(today, core.clock.now().timetz())
    r = verification.verify_pdf(
        core.uow(), data, check_signature=core.signature_checker, check_ofd=core.ofd_checker,
        keys=core.qr_public_keys, today=today, now=now, policy=core.policy,
    )  # fmt: skip
    return r.status, [reason.code for reason in r.reasons]


def _both(core: App, exclude: tuple[str, ...] = ()) -> tuple[issuance.IssuedCertificate, CertificateContent]:
    cert = issue_to_a_demo_holder(core, 30, formats=("pdf", "ofd"), exclude=exclude)
    assert cert.pdf is not None and cert.ofd is not None
    meta = signed_metadata(cert.pdf)
    assert meta is not None
    return cert, CertificateContent.from_dict(json.loads(meta["EcertContent"]))


# ------------------------------------------------------------------------------------------- package surgery


def _rezip(package: bytes, change: Callable[[dict[str, bytes]], None]) -> bytes:
    files = package_files(package)
    change(files)
    return zip_package(files.items())


def _edit_content(package: bytes) -> bytes:
    """One byte of the page (Content.xml) changed after sealing, the package zipped again."""

    def edit(files: dict[str, bytes]) -> None:
        page = files[CONTENT_XML]
        at = page.index(b"<ofd:TextCode") + 40
        files[CONTENT_XML] = flip_byte(page, at)

    return _rezip(package, edit)


def _add_file(package: bytes) -> bytes:
    return _rezip(package, lambda files: files.update({"Doc_0/Res/note.xml": b"<note>VOID</note>"}))


def _unsealed(package: bytes) -> bytes:
    """The package as it was before sealing: no Doc_0/Signs, OFD.xml without its Signatures entry."""

    def strip(files: dict[str, bytes]) -> None:
        for name in [n for n in files if n.startswith(SIGNS_DIR + "/")]:
            del files[name]
        ofd = files["OFD.xml"].decode("utf-8")
        files["OFD.xml"] = ofd.replace(f"<ofd:Signatures>{SIGNS_DIR}/Signatures.xml</ofd:Signatures>", "").encode()

    return _rezip(package, strip)


def _foreign_ofd(core: App, content: CertificateContent, cert: issuance.IssuedCertificate, at: datetime) -> bytes:
    """The same certificate made by another DEMO SM2 PKI (its own root, seal maker and seal, with the
    same seal picture): a well-formed, intact seal nobody here trusts."""
    stranger = sm2.demo_sm2_pki(at - timedelta(days=30))
    picture = package_files(cert.ofd or b"")[SEAL_PNG]
    seal = make_seal(
        es_id="FOREIGN-SEAL", picture_png=picture, signer_cert=stranger.seal, maker_key=stranger.root_key,
        maker_cert=stranger.root, valid_start=at - timedelta(days=30), valid_end=at + timedelta(days=3650),
    )  # fmt: skip
    maker = OfdMaker(OfdSealer(stranger.seal_key, stranger.seal, seal), default_fonts(), demo=True)
    with core.uow() as uow:
        images = uow.certificates.images(content.registration_no)
    meta = {"EcertContent": content.canonical_json().decode("utf-8"), "EcertQR": cert.qr}
    return maker.make(
        content, qr_text=cert.qr, signature_image=images["signature"], photo=images.get("photo"), metadata=meta,
        signing_time=at,
    )  # fmt: skip


def _pdf_twins(env: Env, content: CertificateContent, cert: issuance.IssuedCertificate) -> tuple[bytes, bytes]:
    """The same certificate's PDF unsealed, and sealed by another DEMO PKI."""
    core = env.core
    with core.uow() as uow:
        images = uow.certificates.images(content.registration_no)
    meta = {"EcertContent": content.canonical_json().decode("utf-8"), "EcertQR": cert.qr}
    unsigned = core.documents.renderer.render(
        content, qr_text=cert.qr, signature_image=images["signature"], photo=images.get("photo"), metadata=meta
    )
    foreign = pki.create_demo_pki(env.tmp / "foreign")
    signer = load_signer(SealKeyConfig.pem(foreign.seal_key, foreign.seal_cert, (foreign.root_cert,)))
    return unsigned, PadesSealer(signer).seal(unsigned, core.clock.now())


# ------------------------------------------------------------------------------------------------ parity


def test_ofd_and_pdf_of_one_issuance_get_the_same_verdicts__R_DOC_6(env: Env) -> None:
    core = env.core
    cert, content = _both(core)
    assert cert.pdf is not None and cert.ofd is not None
    pdf_unsigned, pdf_foreign = _pdf_twins(env, content, cert)
    cases: dict[str, tuple[bytes, bytes, Verdict]] = {
        "intact": (cert.pdf, cert.ofd, ("valid", ["valid"])),
        "content edited after sealing": (
            flip_byte(cert.pdf, byte_ranges(cert.pdf)[1] // 2),
            _edit_content(cert.ofd),
            ("tampered", ["signature_broken"]),
        ),
        "something added after sealing": (
            add_annotation_after_signing(cert.pdf),
            _add_file(cert.ofd),
            ("tampered", ["modified_after_signing"]),
        ),
        "sealed by an untrusted key": (
            pdf_foreign,
            _foreign_ofd(core, content, cert, core.clock.now()),
            ("untrusted", ["untrusted_signer"]),
        ),
        "not sealed": (pdf_unsigned, _unsealed(cert.ofd), ("untrusted", ["not_signed"])),
    }
    for label, (pdf, ofd, expected) in cases.items():
        assert verification.is_ofd(ofd) and not verification.is_ofd(pdf), label
        assert _verdict(core, pdf) == expected, label
        assert _verdict(core, ofd) == _verdict(core, pdf), label


def test_registry_state_and_window_give_the_same_verdict_for_both_files__R_DOC_6_R_CHG_1_R_USE_3(env: Env) -> None:
    core = env.core
    changed, changed_content = _both(core)
    revoked, revoked_content = _both(core, exclude=(changed_content.registration_no,))
    now = core.clock.now()
    # Outside the usage window: the day after it ends, and the day before it starts.
    for day, status in ((changed.usage_until + timedelta(days=1), "expired"),
                        (changed.usage_from - timedelta(days=1), "not_yet_valid")):  # fmt: skip
        assert changed.pdf is not None and changed.ofd is not None
        pdf, ofd = _verdict(core, changed.pdf, day), _verdict(core, changed.ofd, day)
        assert pdf[0] == status and ofd == pdf, (day, pdf, ofd)
    # A change of employer supersedes both files of the issuance (R-CHG-1).
    changes.change_employer(
        core.uow(), changed_content.registration_no, name="浙江新成建设有限公司", uscc=USCC_B, actor="test", now=now
    )
    assert changed.pdf is not None and changed.ofd is not None
    pdf, ofd = _verdict(core, changed.pdf), _verdict(core, changed.ofd)
    assert pdf[0] == "superseded" and ofd == pdf, (pdf, ofd)
    # A revoked registration: both files say revoked.
    changes.revoke(
        core.uow(), revoked_content.registration_no, reason="以欺骗手段取得注册",
        basis="《注册建造师管理规定》第十七条", effective=TODAY.isoformat(), actor="test", today=TODAY, now=now,
    )  # fmt: skip
    assert revoked.pdf is not None and revoked.ofd is not None
    pdf, ofd = _verdict(core, revoked.pdf), _verdict(core, revoked.ofd)
    assert pdf[0] == "revoked" and ofd == pdf, (pdf, ofd)


# ------------------------------------------------------------------------------------------------ OFD only


def _new_picture(package: bytes) -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (40, 40), (200, 0, 0, 255)).save(buf, "PNG")
    return _rezip(package, lambda files: files.update({SEAL_PNG: buf.getvalue()}))


def _without(package: bytes, name: str) -> bytes:
    return _rezip(package, lambda files: files.pop(name) and None)


def test_what_only_an_ofd_package_can_suffer_gets_its_own_verdict__R_DOC_6(env: Env) -> None:
    core = env.core
    cert, content = _both(core)
    other, _ = _both(core, exclude=(content.registration_no,))
    assert cert.ofd is not None and other.ofd is not None
    fonts = [n for n in package_files(cert.ofd) if n.endswith(".ttf")]
    cases: dict[str, tuple[bytes, Verdict]] = {
        "SignedValue.dat of another issuance": (
            _rezip(cert.ofd, lambda files: files.update({SIGNED_VALUE: package_files(other.ofd or b"")[SIGNED_VALUE]})),
            ("tampered", ["signature_broken"]),
        ),
        "seal picture replaced": (_new_picture(cert.ofd), ("tampered", ["signature_broken"])),
        "a font missing": (_without(cert.ofd, fonts[0]), ("tampered", ["signature_broken"])),
        "a path escaping the package": (with_escaping_path(cert.ofd), ("indeterminate", ["package_unsafe_path"])),
        "a zip bomb": (zip_bomb(), ("indeterminate", ["package_too_large"])),
        "a truncated package": (cert.ofd[: len(cert.ofd) // 2], ("indeterminate", ["package_malformed"])),
        "a zip that is no OFD": (zip_package([("hello.txt", b"hi")]), ("indeterminate", ["package_malformed"])),
        "not a zip at all": (b"hello, not a certificate", ("indeterminate", ["not_pdf"])),
    }
    for label, (data, expected) in cases.items():
        assert _verdict(core, data) == expected, label
    # The untouched files still verify (nothing above was changed in place).
    assert _verdict(core, cert.ofd) == ("valid", ["valid"])
    assert _verdict(core, other.ofd) == ("valid", ["valid"])
