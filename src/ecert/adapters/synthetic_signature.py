"""Synthetic handwritten-looking signature images for the DEMO registry (not real signatures).

Drawn with Pillow in the certificate fonts, slanted, in blue-black ink, as a small 1-bit-ish PNG.
A character the main font lacks (𠮷, 𪚥 …) is drawn with the Hanazono fallback.
"""

from __future__ import annotations

import io
import zlib
from functools import cache

from PIL import Image, ImageDraw, ImageFont

MAIN_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
FALLBACKS = ("/usr/share/fonts/truetype/hanazono/HanaMinA.ttf", "/usr/share/fonts/truetype/hanazono/HanaMinB.ttf")
SIZE = (360, 120)


@cache
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


@cache
def _cmap(path: str) -> frozenset[int]:
    # Pillow cannot tell a missing glyph from .notdef; the font's cmap can.
    from reportlab.pdfbase.ttfonts import TTFontFile  # type: ignore[import-untyped]

    return frozenset(TTFontFile(path, subfontIndex=0).charToGlyph)


def _font_path(ch: str) -> str:
    return next((p for p in (MAIN_FONT, *FALLBACKS) if ord(ch) in _cmap(p)), MAIN_FONT)


def signature_png(name: str, seed: int = 0) -> bytes:
    img = Image.new("L", SIZE, 255)
    draw = ImageDraw.Draw(img)
    x = 24 + seed % 17
    for i, ch in enumerate(name):
        font = _font(_font_path(ch), 64)
        y = 20 + ((seed >> i) % 7) - 3
        draw.text((x, y), ch, font=font, fill=30)
        x += int(font.getlength(ch)) - 6
    # A flourish under the name, as people do.
    draw.line([(20, 98), (x * 0.55, 104), (x + 10, 92)], fill=40, width=3)
    slanted = img.transform(SIZE, Image.Transform.AFFINE, (1, 0.25, -15, 0, 1, 0), fillcolor=255)
    rgb = Image.merge("RGB", (slanted, slanted, slanted.point(lambda v: min(255, v + 60))))
    out = io.BytesIO()
    rgb.save(out, format="PNG", optimize=False, compress_level=zlib.Z_BEST_SPEED)
    return out.getvalue()
