"""The offline verifier page (issue 14 item 3) in a real browser (Debian's Chromium driven by Playwright)
with the network cut: the page is opened once online (its service worker keeps the page, the decoder,
the JWKS and the signed status list), then the context goes offline (Playwright's offline mode) and the
page is loaded again and used. It reads a photo of a QR code with the vendored zxing-wasm decoder,
checks the token's Ed25519 signature with WebCrypto and the serial against the cached list: "valid"
for a current certificate, "superseded" and "revoked" from the list, "status unknown" (indeterminate)
once the list is past its next update — never "valid". The page's list reader refuses a truncated list
and one re-signed with an unknown key.

Three certificates of a demo site dated 2021-03-01 (tests/helpers_offline.py, served in-process): one
current, one superseded (employer changed), one revoked. The browser's clock is set just after the
list was built (the site's dates are in 2021)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import segno
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from ecert.adapters.signing.jws import JwsSigner
from ecert.adapters.status_list import header
from ecert.services import status_list
from helpers_browser import PHONE, chromium, shot
from helpers_offline import build_site, serving_app

CACHE = "ecert-offline-v1"
LIST = "/.well-known/ecert-status-list"


@dataclass
class Site:
    base: str
    qr: dict[str, str]  # current, superseded, revoked → what each certificate's QR code reads
    qr_png: Path  # the current certificate's QR code, as a photo
    issued_at: datetime  # the status list's


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("offline")
    made = build_site(tmp)
    core = made.core
    built = status_list.build(core.uow(), signer=core.attestation_signer, now=core.clock.now())
    assert built.listed == 2
    png = tmp / "qr.png"
    segno.make(made.qr["current"], error="m").save(png, scale=6, border=4)
    with serving_app(core) as base:
        yield Site(base, made.qr, png, built.issued_at)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    p: Playwright
    with sync_playwright() as p, chromium(p) as b:
        yield b


def _verdict(page: Page, text: str | None = None, photo: str | None = None) -> tuple[str, list[str]]:
    """Verify ``text`` through the page's form, or a ``photo`` through the scanner: (status, reason codes)."""
    page.evaluate("() => { document.querySelector('[data-offline-verdict]').dataset.status = '' }")
    if photo is not None:
        page.set_input_files("[data-offline-scanner] [data-scan-file]", photo)
    else:
        assert text is not None
        page.fill("[data-offline-text]", text)
        page.click("[data-offline-form] button")
    page.wait_for_function("() => document.querySelector('[data-offline-verdict]').dataset.status", timeout=30_000)
    box = page.locator("[data-offline-verdict]")
    return box.get_attribute("data-status") or "", (box.get_attribute("data-reason-codes") or "").split()


def test_offline_page_verifies_with_the_network_cut__issue_14(browser: Browser, site: Site) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.clock.set_fixed_time(site.issued_at + timedelta(minutes=10))
        page.goto(site.base + "/offline/")
        assert page.locator("link[rel=manifest]").get_attribute("href") == "/offline/manifest.webmanifest"
        page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=20_000)
        page.wait_for_function(f"async () => !!(await (await caches.open('{CACHE}')).match('{LIST}'))", timeout=20_000)

        context.set_offline(True)
        page.reload()
        page.wait_for_function("() => document.querySelector('[data-offline]').dataset.offlineReady", timeout=20_000)
        assert page.locator("[data-offline]").get_attribute("data-offline-ready") == "ok"
        age = page.locator("[data-offline-age]")
        assert age.get_attribute("data-level") == "ok" and "2021-03-01" in age.inner_text()

        # A photo of the current certificate's QR code: decoded, verified offline → 有效.
        photo = str(site.qr_png)
        read = _verdict(page, photo=photo)
        assert read == ("valid", ["valid", "offline_unchecked"])
        assert page.inner_text("[data-offline-word]").strip() == "有效"
        shot(page, "14-offline-valid")
        assert _verdict(page, site.qr["superseded"])[0] == "superseded"
        assert _verdict(page, site.qr["revoked"]) == ("revoked", ["revoked_listed", "offline_unchecked"])
        # A forged token (one character of the signature changed) is not the certificate's.
        forged = site.qr["current"][:-2] + ("A" if site.qr["current"][-2] != "A" else "B") + site.qr["current"][-1]
        assert _verdict(page, forged)[0] in ("tampered", "indeterminate")

        # A day later the cached list is past its next update: status unknown, never valid.
        page.clock.set_fixed_time(site.issued_at + timedelta(hours=25))
        assert _verdict(page, site.qr["current"]) == ("indeterminate", ["status_list_stale", "offline_unchecked"])
        assert age.get_attribute("data-level") == "warn"
        shot(page, "15-offline-stale")
    finally:
        context.close()


def test_offline_page_refuses_a_truncated_list_and_one_signed_with_an_unknown_key__issue_14(
    browser: Browser, site: Site
) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(site.base + "/offline/")
        page.wait_for_function("() => document.querySelector('[data-offline]').dataset.offlineReady")
        genuine = page.evaluate(f"async () => (await fetch('{LIST}')).text()")
        intruder = JwsSigner(Ed25519PrivateKey.generate())
        now = datetime.now().astimezone()
        payload = genuine.split(".")[1]
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        resigned = intruder.sign_bytes(raw, header(intruder.kid, now, now + timedelta(days=1)))
        codes = page.evaluate(
            """async ([genuine, resigned]) => {
                const m = await import('/static/offline/verifier.js');
                const keys = await m.importKeys(await (await fetch('/.well-known/jwks.json')).json());
                const code = (text) => m.readStatusList(text, keys).then(() => 'ok', (e) => e.code);
                return [await code(genuine), await code(genuine.slice(0, genuine.length - 10)),
                        await code(genuine.slice(0, Math.floor(genuine.length / 2))), await code(resigned)];
            }""",
            [genuine, resigned],
        )
        assert codes == ["ok", "status_list_malformed", "status_list_malformed", "status_list_unknown_key"]
    finally:
        context.close()
