"""The whole holder → reviewer → public flow in a real browser (Debian's Chromium driven by
Playwright; Playwright never downloads a browser of its own).

A holder signs in, cannot download before confirming the usage window (R-USE-1), confirms and
downloads; the test renders the PDF's page, decodes the QR code with zxing-cpp, opens that URL in
the browser and sees 有效; the holder then chooses the OFD and downloads it (R-DOC-6). After a
reviewer approves a renewal, the same URL shows 已被更新 (R-REN-6, R-CHG-1). Screenshots of the
main pages are saved under ``artifacts/screenshots``.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from ecert.bootstrap import bootstrap
from ecert.config import Settings
from ecert.testing import free_port, stop, wait_ready
from helpers_browser import ECERT, chromium, login, read_qr, render_page, shot, site_env

TODAY = "2021-03-01"


class Site:
    """An ``ecert serve`` process on 127.0.0.1 with its own clock (ECERT_TODAY) over a shared DB."""

    def __init__(self, work: Path, env: dict[str, str], today: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [ECERT, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=work, env={**env, "ECERT_TODAY": today}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip
        try:
            wait_ready(self.base, 30, self.proc)
        except RuntimeError:
            self.stop()
            raise

    def stop(self) -> None:
        stop(self.proc)


@pytest.fixture
def work(tmp_path: Path) -> tuple[Path, dict[str, str], dict[str, str]]:
    env = site_env(tmp_path)
    res = subprocess.run(
        [ECERT, "demo", "--holders", "40", "--json"], cwd=tmp_path, env={**env, "ECERT_TODAY": TODAY},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    demo = json.loads(res.stdout)
    accounts = {a["role"]: a for a in demo["accounts"]}
    return tmp_path, env, accounts


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as p, chromium(p) as b:
        yield b


def test_holder_reviewer_public_flow_in_a_real_browser__R_USE_1_R_DOC_4_R_CHG_1(
    work: tuple[Path, dict[str, str], dict[str, str]], browser: Browser
) -> None:
    tmp, env, accounts = work
    holder, reviewer = accounts["holder"], accounts["reviewer"]
    site = Site(tmp, env, TODAY)
    try:
        page = browser.new_page(accept_downloads=True, viewport={"width": 420, "height": 900})
        page.goto(site.base + "/")
        shot(page, "01-home")
        login(page, site.base, holder["username"], holder["password"])
        assert page.url.endswith("/me"), page.url
        shot(page, "02-holder-me")

        # R-USE-1: without ticking the confirmation nothing is downloaded.
        button = page.locator("form[action='/me/download'] button[type=submit]")
        with pytest.raises(PlaywrightTimeout), page.expect_download(timeout=1500):
            button.click()  # the browser refuses to submit: the checkbox is required
        assert page.url.endswith("/me")

        page.check("form[action='/me/download'] input[name=confirm]")
        with page.expect_download() as dl:
            button.click()
        pdf = tmp / "c.pdf"
        dl.value.save_as(pdf)
        assert pdf.read_bytes().startswith(b"%PDF")

        # The QR code on the rendered page, read by an independent decoder.
        qr_path = "/V/" + read_qr(render_page(pdf)).text.split("/V/", 1)[1]

        public = browser.new_page(viewport={"width": 390, "height": 844})  # a phone, not signed in
        public.goto(site.base + qr_path)
        assert public.inner_text(".verdict-word").strip() == "有效"
        assert public.locator(".signature img").count() == 1  # R-DOC-5
        shot(public, "03-public-valid")
        public.goto(site.base + qr_path + "?lang=en")
        assert public.inner_text(".verdict-word").strip() == "Valid"
        public.goto(site.base + "/V/" + "A" * 40)
        assert public.inner_text(".verdict-word").strip() == "Cannot verify"
        public.goto(site.base + qr_path + "?lang=zh")

        # R-DOC-6: the same form offers the OFD of the national format; chosen, it downloads the
        # package sealed with the DEMO SM2 seal, which `ecert verify` finds valid.
        page.check("form[action='/me/download'] input[name=format][value=ofd]")
        page.check("form[action='/me/download'] input[name=confirm]")
        with page.expect_download() as dl:
            button.click()
        assert dl.value.suggested_filename.endswith(".ofd"), dl.value.suggested_filename
        ofd = tmp / "c.ofd"
        dl.value.save_as(ofd)
        assert ofd.read_bytes().startswith(b"PK\x03\x04")
        checked = subprocess.run(
            [ECERT, "verify", str(ofd), "--json"], cwd=tmp, env={**env, "ECERT_TODAY": TODAY},
            capture_output=True, text=True,
        )  # fmt: skip
        assert json.loads(checked.stdout)["status"] == "valid", checked.stdout + checked.stderr
    finally:
        site.stop()

    # A renewal inside the window of the holder's earliest specialty, approved by the reviewer.
    show = subprocess.run(
        [ECERT, "holder", "show", holder["registration_no"], "--json"], cwd=tmp, env={**env, "ECERT_TODAY": TODAY},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    specs = [s for s in json.loads(show.stdout)["specialties"] if s["state"] in ("valid", "renewable")]
    spec = min(specs, key=lambda s: s["valid_until"])
    day = max(date.fromisoformat(TODAY), date.fromisoformat(spec["valid_until"]) - timedelta(days=10)).isoformat()
    applied = subprocess.run(
        [ECERT, "renewal", "apply", holder["registration_no"], "--specialty", spec["specialty"], "--commit-ce",
         "--json"],
        cwd=tmp, env={**env, "ECERT_TODAY": day}, capture_output=True, text=True,
    )  # fmt: skip
    assert applied.returncode == 0, applied.stdout + applied.stderr
    app_id = json.loads(applied.stdout)["application_id"]

    later = Site(tmp, env, day)
    try:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        login(page, later.base, reviewer["username"], reviewer["password"], reviewer["totp_secret"])
        page.goto(later.base + "/review")
        shot(page, "04-reviewer-pending")
        page.locator(f"form[action='/review/{app_id}'] button[value=approve]").click()
        page.wait_for_load_state()
        shot(page, "05-reviewer-decided")
        public = browser.new_page(viewport={"width": 390, "height": 844})
        public.goto(later.base + qr_path)
        assert public.inner_text(".verdict-word").strip() == "已被更新"
        shot(public, "06-public-superseded")
    finally:
        later.stop()


def _append_audit_events(env: dict[str, str], n: int) -> None:
    """``n`` audit events shaped like the worst real ones for a table: long unbreakable subjects (an
    e-licence identifier, a 32-hex batch id), 64-hex digests, a long free-text reason."""
    core = bootstrap(Settings(database_url=env["ECERT_DATABASE_URL"], today_override=date.fromisoformat(TODAY)))
    identifier = "1.2.156.3005.2.11100000000013338W000.11100000000013338W.YBZTM7IFHIF3F6N6.001.D"
    reason = "以欺骗、贿赂等不正当手段取得注册证书。" * 12
    with core.uow() as uow:
        for i in range(n):
            subject, payload = [
                (identifier, {"content_digest": f"{i:064x}", "identifier": identifier, "window": ["2021-03-01"]}),
                (f"{i * 7919:032x}", {"sha256": f"{i * 104729:064x}", "count": 40 + i, "channels": {"qr": i}}),
                ("浙3312004200500042", {"reason": reason, "basis": "《注册建造师管理规定》第三十二条"}),
            ][i % 3]
            uow.audit.append(
                at=core.clock.now(), actor="e2e-operator-with-a-long-name", action="test.audit_page",
                subject=subject, payload=payload,
            )  # fmt: skip
        uow.commit()
    core.engine.dispose()


def test_the_audit_page_of_50_events_stays_under_two_screens__R_ACC_1(
    work: tuple[Path, dict[str, str], dict[str, str]], browser: Browser
) -> None:
    tmp, env, accounts = work
    _append_audit_events(env, 110)
    site = Site(tmp, env, TODAY)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 800})  # a desktop
        login(
            page,
            site.base,
            accounts["admin"]["username"],
            accounts["admin"]["password"],
            accounts["admin"]["totp_secret"],
        )
        page.goto(site.base + "/admin/audit")
        rows = page.locator("table.audit tbody tr")
        assert rows.count() == 50
        height = page.evaluate("document.body.scrollHeight")
        assert height <= 2 * 800, f"the audit page is {height} px tall for 50 events"
        heights = {round(rows.nth(i).bounding_box()["height"]) for i in range(50)}  # type: ignore[index]
        assert max(heights) < 32, heights  # one line an event, whatever its subject or details
        details = page.locator("table.audit td.details").first.bounding_box()
        assert details is not None and details["width"] >= 300  # not squeezed to a sliver
        chain = page.locator(".chain").bounding_box()
        table = page.locator("table.audit").bounding_box()
        assert chain is not None and table is not None and chain["y"] < table["y"]  # the chain's verdict first
        assert "审计日志完好" in page.inner_text(".chain")
        shot(page, "07-admin-audit")

        page.locator("table.audit tbody tr").nth(2).locator("summary").click()
        pre = page.locator("table.audit tbody tr").nth(2).locator("pre.payload")
        assert pre.is_visible() and "\n  " in pre.inner_text()  # pretty-printed when folded out
        shot(page, "08-admin-audit-details")
        page.click("a[rel=next]")
        page.wait_for_load_state()
        assert page.locator("table.audit tbody tr").count() == 50
        assert "第 51–100 条" in page.inner_text(".audit-count")
    finally:
        site.stop()
