"""The roster report through the web page in a real browser (issue 13 item 3; Debian's Chromium driven by
Playwright): an employer signs in, uploads a roster of mixed cases and then a zip of certificates, and the
report page lists the right row for each — valid, a specialty expired on the date, someone of another
employer (only "not employed by you", R-ACC-1), an unknown number, a revoked registration, a superseded
PDF, a tampered PDF — with the signed downloads. The cases are the CLI test's (tests/helpers_roster.py)."""

from __future__ import annotations

import os
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from ecert.testing import free_port, stop, wait_ready
from helpers_browser import ECERT, chromium, login, shot
from helpers_cli import UNKNOWN_NO, USCC_A
from helpers_roster import TODAY, Cases, build_cases, write_roster

PASSWORD = "roster-browser-2021"


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as p, chromium(p) as b:
        yield b


@pytest.fixture
def site(ecert: Any, db_url: str, tmp_path: Path) -> Iterator[tuple[str, Cases]]:
    cases = build_cases(ecert, tmp_path)
    res = ecert("user", "add", "boss-a", "--role", "employer", "--uscc", USCC_A, "--password-stdin", "--json",
                input=PASSWORD + "\n", today=TODAY)  # fmt: skip
    assert res.exit_code == 0, res.stdout
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ECERT_")},
        "ECERT_DATABASE_URL": db_url,
        "ECERT_KEYS_DIR": str(tmp_path / "var" / "keys"),
        "ECERT_TODAY": TODAY,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [ECERT, "serve", "--host", "127.0.0.1", "--port", str(port)], cwd=tmp_path, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        wait_ready(base, 30, proc)
        yield base, cases
    finally:
        stop(proc)


def _upload(page: Page, base: str, path: Path) -> dict[str, str]:
    """Upload ``path`` on the roster page; the report page's rows: key (number or file) → reason codes."""
    page.goto(f"{base}/roster")
    page.set_input_files("input[name=file]", str(path))
    page.click("form.roster-form button")
    page.wait_for_selector("section.roster-run[data-status=done]", timeout=30_000)
    rows = page.locator("table.roster-rows tbody tr")
    out = {}
    for i in range(rows.count()):
        row = rows.nth(i)
        out[row.get_attribute("data-key") or ""] = row.get_attribute("data-reason-codes") or ""
    return out


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_employer_checks_a_roster_of_mixed_cases_in_the_browser__R_ACC_1(
    site: tuple[str, Cases], browser: Browser, tmp_path: Path
) -> None:
    base, cases = site
    page = browser.new_page(accept_downloads=True)
    login(page, base, "boss-a", PASSWORD)
    roster = write_roster(
        tmp_path / "roster.csv",
        [[cases.valid, "建筑工程"], [cases.expired, "公路工程"], [cases.other, ""], [UNKNOWN_NO, ""],
         [cases.revoked, ""]],
    )  # fmt: skip
    rows = _upload(page, base, roster)
    shot(page, "roster-01-report")
    assert rows == {
        cases.valid: "ok",
        cases.expired: "specialty_not_valid_on_date",
        cases.other: "not_employed_by_you",
        UNKNOWN_NO: "not_found",
        cases.revoked: "registration_inactive",
    }
    other = page.locator(f'tr[data-key="{cases.other}"]')
    assert "非本单位" in other.inner_text() and "张" not in other.inner_text()  # R-ACC-1: no name, nothing else
    assert page.locator(".count-ok").inner_text() == "1"
    with page.expect_download() as dl:
        page.click("a[href$='report.pdf']")
    pdf = Path(dl.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF") and b"/ByteRange" in pdf
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout
    assert cases.valid.encode() in text and UNKNOWN_NO.encode() in text

    bundle = tmp_path / "certs.zip"
    with zipfile.ZipFile(bundle, "w") as z:
        for name in ("valid", "superseded", "tampered", "revoked"):
            z.writestr(f"{name}.pdf", cases.pdfs[name].read_bytes())
    rows = _upload(page, base, bundle)
    shot(page, "roster-02-certificates")
    assert rows["valid.pdf"] == "ok"
    assert rows["superseded.pdf"] == "certificate_not_valid superseded"
    assert rows["tampered.pdf"] == "certificate_not_valid signature_broken"
    assert rows["revoked.pdf"] == "registration_inactive certificate_not_valid revoked"
    assert "已被更新" in page.locator('tr[data-key="superseded.pdf"]').inner_text()
