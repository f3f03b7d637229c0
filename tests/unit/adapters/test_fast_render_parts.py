"""The fast writer's building blocks against the references they replace (issue "national scale").

- the QR encoder gives segno's matrix (level Q, mask 0) for every version, and its operators fill
  exactly the dark modules (R-DOC-4);
- the cached subsetter gives ReportLab's font program byte for byte, and its joined deflate pieces
  inflate to it (R-DOC-1 fonts);
- PDF text strings round-trip through pypdfium2.
"""

from __future__ import annotations

import random
import re
import zlib

import pytest
import segno

from ecert.adapters.documents.fast_render import pdf_text_string
from ecert.adapters.documents.fonts import default_fonts
from ecert.adapters.documents.qr import fast_matrix, fast_qr_operators
from ecert.adapters.documents.ttf_subset import SubsetFont, deflate_piece, join_deflated, stored_piece

ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def _texts() -> list[str]:
    rnd = random.Random(6)
    lengths = [1, 2, 3, 10, 25, 26, 47, 77, 114, 154, 195, 203, 220, 331, 500, 700, 1000, 1400, 1852, 2420]
    out = []
    for n in lengths:
        t = "".join(rnd.choice(ALNUM) for _ in range(n))
        out.append(t if not t.isdigit() else "A" + t[1:])
    return out


@pytest.mark.parametrize("text", _texts(), ids=lambda t: f"len{len(t)}")
def test_fast_qr_matrix_is_segnos__R_DOC_4(text: str) -> None:
    ref = segno.make(text, error="q", mask=0, micro=False, boost_error=False)
    fast = fast_matrix(text)
    assert fast is not None
    version, rows = fast
    assert version == ref.version
    assert rows == [bytes(r) for r in ref.matrix]


@pytest.mark.parametrize("text", _texts()[::4], ids=lambda t: f"len{len(t)}")
def test_fast_qr_operators_fill_exactly_the_dark_modules__R_DOC_4(text: str) -> None:
    ref = segno.make(text, error="q", mask=0, micro=False, boost_error=False)
    ops, version = fast_qr_operators(text, 10.0, 20.0, 100.0)
    assert version == ref.version
    painted: set[tuple[int, int]] = set()
    for m in re.finditer(r"^(\d+) (\d+) (\d+) 1 re$", ops, re.M):
        col, row, length = map(int, m.groups())
        cells = {(row, col + k) for k in range(length)}
        assert not painted & cells  # no module painted twice
        painted |= cells
    dark = {(r, c) for r, row in enumerate(ref.matrix) for c, v in enumerate(row) if v}
    assert painted == dark
    assert ops.startswith("q 1 g 10.000 20.000 100.000 100.000 re f 0 g\n")  # the white quiet zone first


def test_text_outside_alphanumeric_mode_goes_to_segno() -> None:
    for text in ("https://lower.case/v/x", "12345", "中文"):
        assert fast_matrix(text) is None
        ops, version = fast_qr_operators(text, 0, 0, 50)
        assert version == segno.make(text, error="q", mask=0, micro=False, boost_error=False).version
        assert " re\n" in ops


SUBSET_TEXTS = [
    "张伟男晋1142024202501467山西建设投资集团有限公司第三工程分公司建筑工程市政公用工程",
    "欧阳䶮𠮷𪚥 ABC xyz 0123456789",
    "中华人民共和国一级建造师注册证书使用有效期年月日至",
]


@pytest.mark.parametrize("font_index", [0, 1, 2])
@pytest.mark.parametrize("text", SUBSET_TEXTS)
def test_cached_subset_is_reportlabs_font_program__R_DOC_1(font_index: int, text: str) -> None:
    loaded = default_fonts().fonts[font_index]
    face = loaded.ttfont.face
    codes = [0, *sorted({ord(ch) for ch in text if ord(ch) in loaded.cmap})]
    sub = SubsetFont(face)
    for _ in range(2):  # the second time from the per-glyph cache
        assert sub.program(codes) == face.makeSubset(codes)
        compressed, length = sub.build(codes)
        assert zlib.decompress(compressed) == face.makeSubset(codes)
        assert length == len(face.makeSubset(codes))


def test_joined_deflate_pieces_inflate_to_the_concatenation() -> None:
    parts = [b"alpha " * 50, b"", b"\x00\x01\x02" * 1000, b"omega"]
    pieces = [(p, deflate_piece(p) if i % 2 == 0 else stored_piece(p)) for i, p in enumerate(parts)]
    assert zlib.decompress(join_deflated(pieces)) == b"".join(parts)
    broken = join_deflated(pieces)[:-1] + b"\x00"  # the Adler-32 check is real
    with pytest.raises(zlib.error):
        zlib.decompress(broken)


def test_pdf_text_strings_round_trip() -> None:
    assert pdf_text_string("abc (d) \\e") == b"(abc \\(d\\) \\\\e)"
    assert pdf_text_string("张\U00020bb7") == b"<FEFF5F20D842DFB7>"
    assert pdf_text_string("line\nbreak").startswith(b"<FEFF")  # control characters never go in literally
