"""What the document tests share: the checkers they need (pytest fails, naming scripts/setup, when one
is missing), a sample certificate with its signature and photo, pdftotext, and a certificate issued
to the first issuable demo holder."""

from __future__ import annotations

import io
import math
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Collection
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import update

from ecert.adapters.db.tables import registrations
from ecert.bootstrap import App
from ecert.domain.certificate import CertificateContent, PrintedSpecialty
from ecert.domain.errors import EcertError
from ecert.services import issuance

SPECIALTIES = ["建筑工程", "公路工程", "铁路工程", "民航机场工程", "港口与航道工程", "水利水电工程",
               "市政公用工程", "通信与广电工程", "矿业工程", "机电工程"]  # fmt: skip
RARE_NAME = "张\U00020bb7\u4dae\U0002a6a5"  # 张𠮷䶮𪚥: Extension B, A, B
QR_TEXT = "HTTPS://ECERT.EXAMPLE.CN/V/" + "K7Q2M9XW4TABCDEFGHIJKLMNOPQRSTUV234567" * 4 + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def need(module: str) -> Any:
    """The Python package ``module``, imported."""
    try:
        return __import__(module)
    except ImportError:
        pytest.fail(f"Python package {module} is missing — run scripts/setup")


def need_tool(name: str) -> str:
    """The path of the poppler command ``name``."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} (poppler-utils) is not installed — run scripts/setup")
    return path


def pdftotext(pdf: bytes, tmp_path: Path, *args: str) -> str:
    """The text poppler extracts from ``pdf``. poppler 22 writes the non-BMP characters of the *Info*
    strings in the ``-bbox`` header as CESU-8, so that output is decoded leniently; the page text
    itself is proper UTF-8, decoded strictly."""
    src = tmp_path / "cert.pdf"
    src.write_bytes(pdf)
    run = subprocess.run([need_tool("pdftotext"), *args, str(src), "-"], check=True, capture_output=True)
    return run.stdout.decode("utf-8", errors="replace" if "-bbox" in args else "strict")


def signature_png() -> bytes:
    im = Image.new("RGBA", (480, 160), (255, 255, 255, 0))
    d = ImageDraw.Draw(im)
    d.line([(20 + i * 2.2, 80 + 40 * math.sin(i / 9)) for i in range(200)], fill=(10, 10, 40, 255), width=5)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def photo_jpeg() -> bytes:
    im = Image.new("RGB", (300, 400), (70, 120, 200))
    ImageDraw.Draw(im).ellipse((90, 60, 210, 200), fill=(235, 200, 170))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def sample_content(
    n: int = 3, name: str = RARE_NAME, employer: str = "山西建设投资集团有限公司第三工程分公司"
) -> CertificateContent:
    """A certificate of the first ``n`` specialties."""
    return CertificateContent(
        serial="K7Q2M9XW4TZP",
        identifier="1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F",
        registration_no="晋1142024202501467",
        name=name,
        gender="男",
        birth_date=date(1985, 3, 12),
        id_number_masked="140105********2315",
        employer_name=employer,
        employer_uscc="91140100MA0BC1D2E7",
        specialties=tuple(PrintedSpecialty(s, date(2027, 5, 31 - i)) for i, s in enumerate(SPECIALTIES[:n])),
        usage_from=date(2025, 3, 1),
        usage_until=date(2025, 8, 28),
        issue_date=date(2025, 3, 1),
        data_version=3,
    )


def render_sample(render: Callable[..., bytes], content: CertificateContent, *, photo: bool = True) -> bytes:
    """``content`` rendered by ``render`` with the sample QR text, signature, photo and metadata."""
    return render(
        content,
        qr_text=QR_TEXT,
        signature_image=signature_png(),
        photo=photo_jpeg() if photo else None,
        metadata={"EcertContent": content.canonical_json().decode("utf-8"), "EcertQR": QR_TEXT},
    )


def issue_to_a_demo_holder(
    core: App,
    candidates: int,
    *,
    name: str | None = None,
    formats: tuple[str, ...] = ("pdf",),
    exclude: Collection[str] = (),
) -> issuance.IssuedCertificate:
    """A certificate issued to the first of ``candidates`` sampled demo holders that may have one (not
    one of ``exclude``), as the files of ``formats`` (R-DOC-6: ``("pdf", "ofd")`` gives both from one
    issuance); with ``name``, each holder tried is renamed to it first."""
    with core.uow() as uow:
        numbers = [n for n in uow.registry.sample_numbers(candidates) if n not in exclude]
    for no in numbers:
        if name is not None:
            with core.engine.begin() as conn:
                conn.execute(update(registrations).where(registrations.c.registration_no == no).values(name=name))
        try:
            return issuance.issue(
                core.uow(), no, confirm=True, actor="test", today=core.clock.today(), now=core.clock.now(),
                policy=core.policy, docs=core.documents, formats=formats,
            )  # fmt: skip
        except EcertError:
            continue
    raise AssertionError("no issuable demo holder")


# --- OFD packages (R-DOC-6): reading one, and the hostile zips every OFD verification test feeds in.


def package_files(package: bytes) -> dict[str, bytes]:
    """An OFD package's files by path, in zip order."""
    with zipfile.ZipFile(io.BytesIO(package)) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def zip_bomb() -> bytes:
    """A small zip whose OFD.xml inflates past what the OFD reader takes (ofd_seal.MAX_UNPACKED)."""
    from ecert.adapters.signing.ofd_seal import MAX_UNPACKED

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("OFD.xml", b"\0" * (MAX_UNPACKED + 1))
    return out.getvalue()


def with_escaping_path(package: bytes) -> bytes:
    """``package`` with one more file whose path leaves the package (``../evil.xml``)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in package_files(package).items():
            z.writestr(name, data)
        z.writestr("../evil.xml", b"<x/>")
    return out.getvalue()
