"""Benchmark: issuing one sealed certificate (issue "sealed e-certificate"; issue "national scale").

In one run, on one core, measures

- **ecert**: the real issue path — ``services.issuance.issue`` (rules, content, QR token, render,
  PAdES seal, issuance record + audit event committed to SQLite);
- **baseline**: the plain pipeline with default settings and the same content — a ReportLab page
  with the same fonts (TTF subset per document), a segno QR (mask search, PNG image), pyHanko
  ``sign_pdf`` with its automatic signature-size estimate — and no database work at all.

Both outputs are checked before timing: pyHanko validation (intact, trusted) and poppler's pdfsig.
Prints per-run JSON, and last one line ``{"metric", "unit", "ecert", "baseline", "ratio"}``
(ms per certificate; ratio = baseline / ecert, higher is better).

    .venv/bin/python bench/issuance.py [--n 200] [--profile B-B|B-T|B-LT|B-LTA] [--compare-profiles]

``--profile`` is ECERT_SEAL_PROFILE (default B-B, the product's default without a TSA); the time-stamped
profiles use the DEMO TSA in-process (``ECERT_TSA_URL=demo``: no network, so the figure is the signing work
alone — a real TSA adds its round trip, once for B-T/B-LT and twice for B-LTA). ``--compare-profiles`` also
issues with every profile in turn, round-robin in the same process (so load on a shared machine hits all
alike), and prints one line per profile with its median and its cost relative to B-B, before the last line.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys

import harness  # bench/harness.py, imported while this folder is on the path

# bench/http.py is named like the standard library's ``http`` package and sits in this script's
# folder, which Python puts first on the import path (symbolic links resolved): drop it before
# anything imports ``http.client``.
sys.path.remove(os.path.dirname(os.path.realpath(__file__)))
import shutil
import statistics
import subprocess
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

# ECERT_TODAY must be set before the app reads it, so the imports come after.
os.environ.setdefault("ECERT_TODAY", "2021-03-01")

from ecert.adapters import keystore
from ecert.adapters.db.engine import upgrade
from ecert.adapters.signing.pades import validate_pdf
from ecert.bootstrap import bootstrap
from ecert.config import Settings
from ecert.domain.certificate import CertificateContent
from ecert.services import issuance
from ecert.services.demo import seed_demo

TODAY = date.fromisoformat(os.environ["ECERT_TODAY"])


def baseline_render_and_sign(content: CertificateContent, qr_text: str, signature_png: bytes, signer: object) -> bytes:
    """The obvious way: ReportLab + segno + pyHanko, default settings, same content."""
    import segno
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4)
    c.setFont("BaseCJK", 22)
    c.drawCentredString(297, 780, "中华人民共和国一级建造师注册证书")
    c.setFont("BaseCJK", 10)
    c.drawRightString(560, 810, f"使用有效期:{content.usage_from:%Y年%m月%d日}至{content.usage_until:%Y年%m月%d日}")
    y = 730
    fields_ = [
        ("姓名", content.name), ("性别", content.gender), ("出生日期", f"{content.birth_date:%Y年%m月%d日}"),
        ("身份证号", content.id_number_masked), ("注册编号", content.registration_no),
        ("聘用企业", content.employer_name), ("统一社会信用代码", content.employer_uscc),
    ]  # fmt: skip
    for label, value in fields_:
        c.drawString(70, y, label)
        c.drawString(180, y, value)
        y -= 24
    for s in content.specialties:
        c.drawString(70, y, s.specialty)
        c.drawString(300, y, f"{s.valid_until:%Y年%m月%d日}")
        y -= 24
    c.drawImage(ImageReader(io.BytesIO(signature_png)), 180, y - 60, 120, 40)
    qr = segno.make(qr_text, error="m")
    png = io.BytesIO()
    qr.save(png, kind="png", scale=4)
    c.drawImage(ImageReader(io.BytesIO(png.getvalue())), 60, 60, 110, 110)
    c.drawString(330, 120, "发证机关:中华人民共和国住房和城乡建设部")
    c.drawString(60, 40, f"电子证照标识:{content.identifier}")
    c.showPage()
    c.save()
    w = IncrementalPdfFileWriter(io.BytesIO(buf.getvalue()))
    out = signers.sign_pdf(
        w,
        signers.PdfSignatureMetadata(field_name="Seal", subfilter=fields.SigSeedSubFilter.PADES),
        signer=signer,  # type: ignore[arg-type]
    )
    return out.getvalue()


def pdfsig_ok(pdf: Path, root_pem: Path, work: Path) -> bool:
    nss = work / "nss"
    if not nss.exists():
        nss.mkdir()
        subprocess.run(["certutil", "-N", "-d", f"sql:{nss}", "--empty-password"], check=True)
        subprocess.run(
            ["certutil", "-A", "-d", f"sql:{nss}", "-n", "r", "-t", "CT,C,C", "-i", str(root_pem)], check=True
        )
    out = subprocess.run(["pdfsig", "-nssdir", f"sql:{nss}", str(pdf)], capture_output=True, text=True).stdout
    return "Signature is Valid" in out and "Certificate is Trusted" in out


PROFILES = ["B-B", "B-T", "B-LT", "B-LTA"]


def compare_profiles(work: Path, today: date, holders: list[str], rounds: int) -> None:
    """Issue with each ECERT_SEAL_PROFILE in turn (DEMO TSA in-process), ``rounds`` times; one JSON line each."""
    apps = {}
    for profile in PROFILES:
        env = {"ECERT_KEYS_DIR": str(work / "keys"), "ECERT_SEAL_PROFILE": profile}
        if profile != "B-B":
            env["ECERT_TSA_URL"] = "demo"
        keys = keystore.key_settings_from_env(env)
        apps[profile] = bootstrap(Settings(database_url=f"sqlite:///{work / 'b.db'}", today_override=today), keys=keys)
        harness.issue(apps[profile], holders[0], today)  # warm-up: keys, fonts, the TSA
    times: dict[str, list[float]] = {p: [] for p in PROFILES}
    for i in range(rounds):
        holder = holders[i % len(holders)]
        for profile in PROFILES:
            times[profile] += harness.times_ms(lambda _j, p=profile, h=holder: harness.issue(apps[p], h, today), 1)
    base = statistics.median(times["B-B"])
    for profile in PROFILES:
        m = statistics.median(times[profile])
        row = {"profile": profile, "ms_median": round(m, 2), "vs_b_b": round(m / base, 1), "n": rounds}
        print(json.dumps(row), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--profile", default="B-B", choices=PROFILES)
    ap.add_argument("--compare-profiles", action="store_true", help="time every profile, interleaved")
    args = ap.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the issue asks
    work = Path(tempfile.mkdtemp(prefix="ecert-bench-issue-"))
    try:
        env = {"ECERT_KEYS_DIR": str(work / "keys"), "ECERT_SEAL_PROFILE": args.profile}
        if args.profile != "B-B":
            env["ECERT_TSA_URL"] = "demo"
        keys = keystore.key_settings_from_env(env)
        app = bootstrap(Settings(database_url=f"sqlite:///{work / 'b.db'}", today_override=TODAY), keys=keys)
        upgrade(app.engine)
        keystore.ensure_keys(keys)
        seed_demo(app.uow, 400, seed=7, today=TODAY, now=app.clock.now(), signatures=400)
        holders = []
        with app.uow() as uow:
            for no in uow.registry.sample_numbers(400):
                try:
                    issuance.preview(app.uow(), no, today=TODAY, policy=app.policy)
                    holders.append(no)
                except Exception:
                    continue
        assert len(holders) >= 20, "too few issuable demo holders"
        roots = keystore.trust_roots(keys)
        root_pem = work / "root.pem"
        root_pem.write_bytes(keystore.root_pem(keys))

        def ecert_issue(no: str) -> bytes:
            return harness.issue(app, no, TODAY).pdf  # type: ignore[no-any-return]

        # Baseline inputs: the same content and QR text as ecert would print.
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.ttfonts import TTFont

        pdfmetrics.registerFont(TTFont("BaseCJK", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", subfontIndex=0))
        from ecert.adapters.signing.keys import load_signer

        signer = load_signer(keystore.seal_config(keys))
        sample_pdf = ecert_issue(holders[0])
        from ecert.adapters.pdf_inspect import signed_metadata

        meta = signed_metadata(sample_pdf)
        assert meta is not None
        content = CertificateContent.from_dict(json.loads(meta["EcertContent"]))
        with app.uow() as uow:
            sig_png = uow.certificates.images(holders[0])["signature"]

        def baseline() -> bytes:
            return baseline_render_and_sign(content, meta["EcertQR"], sig_png, signer)

        # Both outputs must be accepted before anything is timed.
        now = datetime.combine(TODAY, datetime.min.time()).astimezone() + timedelta(hours=12)
        for name, pdf in (("ecert", sample_pdf), ("baseline", baseline())):
            check = validate_pdf(pdf, trust_roots=roots, moment=now)
            p = work / f"{name}.pdf"
            p.write_bytes(pdf)
            ok = check.intact and check.valid and check.trusted and not check.modified_after_signing
            print(json.dumps({"check": name, "pyhanko_ok": ok, "pdfsig_ok": pdfsig_ok(p, root_pem, work)}), flush=True)
            assert ok

        for i in range(10):  # warm-up both
            ecert_issue(holders[i % len(holders)])
            baseline()
        e = harness.times_ms(lambda i: ecert_issue(holders[i % len(holders)]), args.n)
        b = harness.times_ms(lambda i: baseline(), max(20, args.n // 4))
        em, bm = statistics.median(e), statistics.median(b)
        print(
            json.dumps(
                {
                    "ecert_ms_median": round(em, 2),
                    "ecert_ms_p90": round(sorted(e)[int(len(e) * 0.9)], 2),
                    "baseline_ms_median": round(bm, 2),
                    "n_ecert": len(e),
                    "n_baseline": len(b),
                    "profile": args.profile,
                }
            ),
            flush=True,
        )
        if args.compare_profiles:
            compare_profiles(work, TODAY, holders, max(20, args.n // 4))
        harness.print_metric("issue_ms_per_certificate", "ms", em, bm, 2)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
