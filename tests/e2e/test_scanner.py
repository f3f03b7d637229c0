"""The home page's QR scanner in a real browser (Debian's Chromium driven by Playwright), on a
phone-sized page, with the vendored zxing-wasm decoder (static/vendor/zxing-wasm).

A certificate is issued with ``ecert cert issue``; its PDF page is rendered with pypdfium2 and the
QR code cropped from it (located by zxing-cpp, an independent decoder). That crop is what
Chromium's fake camera shows (a Y4M file written with Pillow), and the rendered page is the photo
the visitor chooses. Both lead to the certificate's verdict page on this site (有效, R-DOC-4). A QR
code of another site is shown with a warning and never opened; a photo without a QR code, a QR code
that is not a certificate's and a refused camera each get their message. No request leaves
127.0.0.1: the decoder and its .wasm come from the site itself.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import segno
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Request, sync_playwright

from ecert.testing import serving
from helpers_browser import ECERT, PHONE, chromium, fake_camera, qr_crop, read_qr, render_page, shot, site_env, y4m

TODAY = "2021-03-01"
WASM = "/static/vendor/zxing-wasm/reader/zxing_reader.wasm"


@dataclass
class Cert:
    base: str  # the site, http://127.0.0.1:PORT
    qr: str  # what the certificate's QR code says: HTTPS://ECERT.EXAMPLE.CN/V/<TOKEN>
    page_png: Path  # the certificate's page, rendered: a photo of it
    qr_png: Path  # the QR code alone, cropped from that page
    camera: Path  # a Y4M video of the QR code, for Chromium's fake camera

    @property
    def verdict_path(self) -> str:
        return "/V/" + self.qr.split("/V/", 1)[1]


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cert]:
    """A demo site serving on 127.0.0.1 and one real certificate of it, as pictures."""
    tmp = tmp_path_factory.mktemp("scanner")
    env = site_env(tmp, ECERT_TODAY=TODAY)

    def run(*args: str) -> dict[str, object]:
        res = subprocess.run([ECERT, *args], cwd=tmp, env=env, capture_output=True, text=True)
        assert res.returncode == 0, res.stdout + res.stderr
        out: dict[str, object] = json.loads(res.stdout)
        return out

    demo = run("demo", "--holders", "20", "--json")
    holder = next(a for a in demo["accounts"] if a["role"] == "holder")  # type: ignore[attr-defined]
    pdf = tmp / "cert.pdf"
    issued = run("cert", "issue", holder["registration_no"], "--confirm", "--out", str(pdf), "--json")
    qr = str(issued["qr"])

    page = render_page(pdf)
    page_png = tmp / "page.png"
    page.save(page_png)
    code = read_qr(page)
    assert code.text == qr
    crop = qr_crop(page, code)
    qr_png = tmp / "qr.png"
    crop.save(qr_png)
    camera = tmp / "camera.y4m"
    y4m(crop, camera)
    with serving(env, cwd=tmp) as (base, _proc):
        yield Cert(base, qr, page_png, qr_png, camera)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright, cert: Cert) -> Iterator[Browser]:
    """Chromium whose camera shows the certificate's QR code, and which grants it without asking."""
    with chromium(playwright, *fake_camera(cert.camera)) as b:
        yield b


@pytest.fixture
def plain_camera(playwright: Playwright) -> Iterator[Browser]:
    """Chromium with its built-in fake camera (a moving test pattern: no QR code), which gives it
    only to a context granted the permission (no --use-fake-ui-for-media-stream: that would grant
    it to everyone)."""
    with chromium(playwright, "--use-fake-device-for-media-stream") as b:
        yield b


class Phone:
    """A phone-sized page of a fresh context that records every request it makes; any request not
    to 127.0.0.1 is aborted (and fails the test in ``close``)."""

    def __init__(self, browser: Browser, base: str, camera: bool = True) -> None:
        self.context: BrowserContext = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        if camera:
            self.context.grant_permissions(["camera"], origin=base)
        self.requests: list[str] = []
        self.context.on("request", self._seen)
        self.context.route("**/*", lambda route: route.continue_() if _local(route.request.url) else route.abort())
        self.page: Page = self.context.new_page()
        self.page.goto(base + "/")

    def _seen(self, request: Request) -> None:
        self.requests.append(request.url)

    def close(self) -> None:
        self.context.close()
        assert [u for u in self.requests if not _local(u)] == [], "requests that left 127.0.0.1"


def _local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob") or parts.hostname == "127.0.0.1"


@pytest.fixture
def phone(browser: Browser, cert: Cert) -> Iterator[Phone]:
    p = Phone(browser, cert.base)
    try:
        yield p
    finally:
        p.close()


def _status(page: Page) -> tuple[str, str]:
    """The scanner's message once it says something other than "working": (name, text)."""
    page.wait_for_function(
        "() => { const s = document.querySelector('[data-scan-status]');"
        " return s.dataset.msg && !['scanning', 'decoding'].includes(s.dataset.msg); }",
        timeout=20_000,
    )
    status = page.locator("[data-scan-status]")
    return status.get_attribute("data-msg") or "", status.inner_text()


def test_camera_scan_opens_the_verdict_page_of_the_certificate__R_DOC_4(phone: Phone, cert: Cert) -> None:
    page = phone.page
    scan = page.get_by_role("button", name="扫描二维码")
    assert scan.is_visible()
    box = scan.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]  # fits the phone
    shot(page, "07-home-scanner")
    with page.expect_response(lambda r: r.url.endswith(WASM)) as wasm:
        scan.click()
    assert wasm.value.status == 200
    assert wasm.value.headers["content-type"] == "application/wasm"
    page.wait_for_url(cert.base + cert.verdict_path, timeout=30_000)
    assert page.inner_text(".verdict-word").strip() == "有效"
    shot(page, "09-scanned-verdict")


def test_the_camera_goes_off_when_stopped(plain_camera: Browser, cert: Cert) -> None:
    phone = Phone(plain_camera, cert.base)
    try:
        page = phone.page
        page.get_by_role("button", name="扫描二维码").click()
        page.wait_for_function("() => document.querySelector('[data-scanner] video').srcObject !== null")
        assert page.locator("[data-scanner] video").is_visible()
        page.evaluate("() => { window.track = document.querySelector('video').srcObject.getTracks()[0]; }")
        assert page.evaluate("() => window.track.readyState") == "live"
        page.wait_for_timeout(1000)  # frames are being decoded, and none has a QR code
        shot(page, "08-scanner-camera")
        assert page.url == cert.base + "/"
        page.get_by_role("button", name="关闭相机").click()
        assert page.evaluate("() => window.track.readyState") == "ended"
        assert page.locator("[data-scan-view]").is_hidden()
        assert _status(page)[0] == "stopped"
    finally:
        phone.close()


def test_choose_a_photo_of_the_certificate_opens_its_verdict_page__R_DOC_4(phone: Phone, cert: Cert) -> None:
    page = phone.page
    page.set_input_files("[data-scan-file]", str(cert.page_png))
    page.wait_for_url(cert.base + cert.verdict_path, timeout=30_000)
    assert page.inner_text(".verdict-word").strip() == "有效"
    assert any(u.endswith(WASM) for u in phone.requests)


def test_a_qr_code_of_another_site_is_shown_with_a_warning_and_not_opened(
    phone: Phone, cert: Cert, tmp_path: Path
) -> None:
    page = phone.page
    elsewhere = "HTTPS://ECERT-VERIFY.EXAMPLE.ORG/V/" + cert.verdict_path.split("/V/", 1)[1]
    png = tmp_path / "elsewhere.png"
    segno.make(elsewhere, error="m").save(png, scale=6)
    page.set_input_files("[data-scan-file]", str(png))
    name, text = _status(page)
    assert (name, text.startswith("注意:此二维码指向其他网站")) == ("foreign", True)
    assert page.inner_text("[data-scan-text]") == elsewhere
    assert page.locator("[data-scan-text] a").count() == 0  # shown as text, not as a link
    page.wait_for_timeout(500)
    assert page.url == cert.base + "/"
    shot(page, "10-scanner-foreign-qr")


def test_photo_messages_no_qr_and_not_a_certificate(phone: Phone, tmp_path: Path) -> None:
    page = phone.page
    blank = tmp_path / "blank.png"
    Image.new("RGB", (400, 300), (250, 250, 250)).save(blank)
    page.set_input_files("[data-scan-file]", str(blank))
    assert _status(page)[0] == "notfound"

    other = tmp_path / "other.png"
    segno.make("WIFI:S:site-office;T:WPA;P:secret;;", error="m").save(other, scale=6)
    page.set_input_files("[data-scan-file]", str(other))
    name, text = _status(page)
    assert name == "notecert" and text.startswith("这不是电子注册证书的验证二维码")
    assert page.url.endswith("/")

    page.goto(page.url + "?lang=en")
    page.set_input_files("[data-scan-file]", str(blank))
    assert _status(page) == ("notfound", "No QR code was found in the photo. Take a sharp picture of the QR code on "
                                         "the certificate and try again.")  # fmt: skip


def test_a_refused_camera_says_so(plain_camera: Browser, cert: Cert) -> None:
    phone = Phone(plain_camera, cert.base, camera=False)  # the permission is not granted: refused
    try:
        phone.page.get_by_role("button", name="扫描二维码").click()
        name, text = _status(phone.page)
        assert name == "denied" and text.startswith("无法使用相机:未获得相机权限")
        assert phone.page.locator("[data-scan-view]").is_hidden()
        assert phone.page.get_by_role("button", name="扫描二维码").is_enabled()  # may try again
    finally:
        phone.close()


def test_no_camera_says_so(playwright: Playwright, cert: Cert) -> None:
    with chromium(playwright) as no_camera:  # no fake device: this machine has no camera
        phone = Phone(no_camera, cert.base)
        try:
            phone.page.goto(cert.base + "/?lang=en")
            phone.page.get_by_role("button", name="Scan QR code").click()
            name, text = _status(phone.page)
            assert name == "nocamera" and text.startswith("No usable camera was found")
        finally:
            phone.close()


def test_which_qr_texts_are_this_sites(phone: Phone, cert: Cert) -> None:
    """scan.js's classify, in the browser: the configured base URL or this origin, any case."""
    token = cert.verdict_path.split("/V/", 1)[1]
    cases = {
        cert.qr: {"kind": "ours", "path": f"/V/{token}"},
        cert.qr.lower(): {"kind": "ours", "path": f"/V/{token.lower()}"},
        f"{cert.base.upper()}/V/{token}": {"kind": "ours", "path": f"/V/{token}"},
        f"HTTPS://ECERT.EXAMPLE.CN.EVIL.ORG/V/{token}": {"kind": "foreign"},
        f"HTTPS://EVIL.ORG/?HTTPS://ECERT.EXAMPLE.CN/V/{token}": {"kind": "foreign"},
        "HTTPS://ECERT.EXAMPLE.CN/V/not-a-token!": {"kind": "other"},
        "hello": {"kind": "other"},
    }
    got = phone.page.evaluate(
        """async ([cases, bases]) => {
             const { classify } = await import('/static/scan.js');
             return Object.keys(cases).map((text) => classify(text, bases));
           }""",
        [cases, [cert.base, "https://ecert.example.cn/"]],
    )
    assert got == list(cases.values())
