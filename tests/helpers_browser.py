"""Helpers for the browser tests (tests/e2e): Debian's Chromium driven by Playwright (Playwright never
downloads a browser of its own), the environment of a throw-away demo site, signing in, screenshots,
and the pictures of a certificate — its rendered page, its QR code as zxing-cpp reads it, and a Y4M
video of that for Chromium's fake camera."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyotp
import pypdfium2 as pdfium
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, Page, Playwright

ECERT = str(Path(sys.executable).parent / "ecert")
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip
SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}


def site_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The environment of a demo site in ``tmp`` (its own SQLite file and keys), without any ECERT_
    setting of the caller's, plus ``extra`` (ECERT_TODAY, ECERT_BASE_URL, …)."""
    assert Path(CHROMIUM).exists(), "Chromium is missing: run scripts/setup (it installs Debian's chromium)"
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("ECERT_")},
        "ECERT_DATABASE_URL": f"sqlite:///{tmp / 'web.db'}",
        "ECERT_KEYS_DIR": str(tmp / "keys"),
        "NO_PROXY": "127.0.0.1,localhost",
        **extra,
    }


@contextmanager
def chromium(playwright: Playwright, *args: str) -> Iterator[Browser]:
    """Debian's Chromium with the tests' launch arguments and ``args``, closed afterwards."""
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS + list(args))
    try:
        yield b
    finally:
        b.close()


def fake_camera(y4m: Path) -> list[str]:
    """Chromium arguments for a camera that shows ``y4m`` (in a loop) and is granted without asking."""
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={y4m}",
    ]


def shot(page: Page, name: str) -> None:
    """A full-page screenshot, ``artifacts/screenshots/<name>.png``."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def login(page: Page, base: str, username: str, password: str, totp_secret: str | None = None) -> None:
    """Sign in through the form. A reviewer or admin then passes the second factor with a code of
    ``totp_secret`` (the DEMO staff's, from ``ecert demo --json``), or enrols with the secret the page
    shows; a code already used (same 30-second step) is retried with the next step's."""
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form[action='/login'] button")
    page.wait_for_load_state()
    for _ in range(3):
        if "/login/second-factor" not in page.url:
            return
        shown = page.locator("#totp-secret")
        secret = shown.inner_text().strip() if shown.count() else totp_secret
        assert secret, f"{username} needs the second factor: pass totp_secret"
        page.fill("input[name=code]", pyotp.TOTP(secret).now())
        page.click("form[action='/login/second-factor'] button")
        page.wait_for_load_state()
        if page.locator("ul.recovery-codes").count():  # a new enrolment: the recovery codes, then on
            page.click("a.button")
            page.wait_for_load_state()
            return
        if "/login/second-factor" in page.url:  # refused (the code of this step was used): the next step's
            time.sleep(30 - time.time() % 30 + 0.1)
    assert "/login/second-factor" not in page.url, f"{username} did not pass the second factor"


def render_page(pdf: Path | bytes, dpi: int = 150) -> Image.Image:
    """Page 1 of a PDF as pixels (RGB), what a printout or a screen shows."""
    image: Image.Image = (
        pdfium.PdfDocument(pdf if isinstance(pdf, bytes) else str(pdf))[0].render(scale=dpi / 72).to_pil()
    )
    return image.convert("RGB")


def read_qr(image: Image.Image) -> zxingcpp.Result:
    """The one QR code in ``image``, read by zxing-cpp (an independent decoder, as a phone's)."""
    codes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(codes) == 1, [c.text for c in codes]
    return codes[0]


def qr_crop(image: Image.Image, code: zxingcpp.Result) -> Image.Image:
    """The QR code ``code`` cut out of ``image``, with a quiet zone of a sixth of its size."""
    corners = [code.position.top_left, code.position.top_right, code.position.bottom_right, code.position.bottom_left]
    xs, ys = [p.x for p in corners], [p.y for p in corners]
    margin = (max(xs) - min(xs)) // 6
    return image.crop((min(xs) - margin, min(ys) - margin, max(xs) + margin, max(ys) + margin))


def y4m(picture: Image.Image, out: Path, size: tuple[int, int] = (640, 480), frames: int = 5) -> None:
    """A still picture as a few frames of a 4:2:0 Y4M video (what --use-file-for-fake-video-capture
    plays, in a loop), centred on grey: no ffmpeg needed."""
    w, h = size
    frame = Image.new("RGB", size, (128, 128, 128))
    pic = picture.convert("RGB")
    pic.thumbnail((int(h * 0.8), int(h * 0.8)))
    frame.paste(pic, ((w - pic.width) // 2, (h - pic.height) // 2))
    y, cb, cr = frame.convert("YCbCr").split()
    planes = y.tobytes() + cb.resize((w // 2, h // 2)).tobytes() + cr.resize((w // 2, h // 2)).tobytes()
    with out.open("wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + planes)
