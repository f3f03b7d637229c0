"""Pieces of the certificate layout: dates, row fitting, image preparation (R-DOC-1, R-DOC-5)."""

from __future__ import annotations

import io
from datetime import date

import pytest
from PIL import Image

from ecert.adapters.documents.page import (
    MAX_IMAGE_PX,
    MAX_SPECIALTIES,
    TABLE_BOTTOM_MAX,
    TABLE_TOP,
    _Rows,
    cn_date,
    prepare_image,
)


def _encode(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def test_dates_print_as_year_month_day_with_zero_padding__R_DOC_1() -> None:
    assert cn_date(date(2025, 3, 1)) == "2025年03月01日"
    assert cn_date(date(1999, 12, 31)) == "1999年12月31日"


@pytest.mark.parametrize("n", range(1, MAX_SPECIALTIES + 1))
def test_table_fits_its_band_for_up_to_ten_specialties(n: int) -> None:
    band = TABLE_BOTTOM_MAX - TABLE_TOP
    rows = _Rows.fit(n, band)
    assert rows.total(n) <= band + 1e-9
    assert rows.spec >= 6.5  # still a readable row (mm)


def test_jpeg_is_embedded_as_is() -> None:
    data = _encode(Image.new("RGB", (300, 400), (80, 120, 200)), "JPEG", quality=80)
    img = prepare_image(data)
    assert img.dct and img.data == data
    assert (img.width, img.height, img.color_space) == (300, 400, "DeviceRGB")
    assert img.smask is None


def test_rotated_jpeg_is_turned_upright() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = _encode(Image.new("RGB", (400, 300), (200, 10, 10)), "JPEG", exif=exif.tobytes())
    img = prepare_image(data)
    assert not img.dct
    assert (img.width, img.height) == (300, 400)


def test_png_alpha_becomes_a_soft_mask__R_DOC_5() -> None:
    im = Image.new("RGBA", (200, 60), (0, 0, 0, 0))
    im.paste((10, 10, 40, 255), (20, 20, 180, 40))
    img = prepare_image(_encode(im, "PNG"), "signature image")
    assert not img.dct and img.smask is not None
    assert img.color_space == "DeviceRGB"


def test_palette_png_with_transparency_and_16_bit_grey_are_accepted() -> None:
    pal = Image.new("P", (50, 20), 0)
    pal.putpalette([255, 255, 255, 0, 0, 0] + [0] * 762)
    pal.paste(1, (5, 5, 45, 15))
    assert prepare_image(_encode(pal, "PNG", transparency=0)).smask is not None
    grey = Image.new("I;16", (40, 40), 40000)
    img = prepare_image(_encode(grey, "PNG"))
    assert img.color_space == "DeviceGray"


def test_opaque_png_has_no_mask_and_large_images_are_reduced() -> None:
    img = prepare_image(_encode(Image.new("RGB", (3000, 1000), (255, 255, 255)), "PNG"))
    assert img.smask is None
    assert max(img.width, img.height) == MAX_IMAGE_PX


def test_images_are_prepared_once_per_content() -> None:
    data = _encode(Image.new("L", (30, 30), 128), "PNG")
    assert prepare_image(data) is prepare_image(data)


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image", _encode(Image.new("RGB", (10, 10)), "GIF"), _encode(Image.new("RGB", (10, 10)), "PNG")[:40]],
)
def test_unreadable_or_unsupported_images_are_a_value_error(data: bytes) -> None:
    with pytest.raises(ValueError, match="signature image is not a readable PNG or JPEG"):
        prepare_image(data, "signature image")
