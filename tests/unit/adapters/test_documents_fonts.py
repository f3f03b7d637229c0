"""The certificate's font fallback chain (R-DOC-1): every character drawn with a real glyph, or refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]

from ecert.adapters.documents.fonts import (
    DEFAULT_FALLBACKS,
    DEFAULT_MAIN,
    FontFilesMissing,
    FontSet,
    _to_unicode_hex,
    default_fonts,
    load_font,
    to_unicode_cmap,
)
from ecert.domain.errors import RuleRefusal

JI = "\U00020bb7"  # 𠮷 Extension B
YAN = "\u4dae"  # 䶮 Extension A
ZHE = "\U0002a6a5"  # 𪚥 Extension B (four dragons)
PRIVATE_USE = "\ue000"
EXT_G = "\U00030000"  # 𰀀 Extension G: assigned, but in none of the shipped fonts


@pytest.fixture(scope="module")
def fonts() -> FontSet:
    return default_fonts()


def test_common_characters_use_the_main_font__R_DOC_1(fonts: FontSet) -> None:
    assert fonts.font_for("张") == fonts.main
    assert fonts.font_for("A") == fonts.main
    assert fonts.main.startswith("Ecert-wqy-microhei")


def test_rare_characters_fall_back_to_hanazono__R_DOC_1(fonts: FontSet) -> None:
    hana_a = fonts.fonts[1].name
    # Measured coverage: WenQuanYi has none of these; HanaMinA has all three.
    for ch in (JI, YAN, ZHE):
        assert ord(ch) not in fonts.fonts[0].cmap
        assert fonts.font_for(ch) == hana_a, f"U+{ord(ch):04X}"


def test_hanazono_b_covers_extension_b_beyond_a(fonts: FontSet) -> None:
    hana_a, hana_b = fonts.fonts[1], fonts.fonts[2]
    ext_b = range(0x20000, 0x2A6E0)
    only_b = [cp for cp in ext_b if cp in hana_b.cmap and cp not in hana_a.cmap]
    assert len(only_b) > 10_000  # HanaMinB carries most of Extension B
    assert fonts.font_for(chr(only_b[0])) == hana_b.name


def test_runs_split_text_by_font_and_merge_neighbours__R_DOC_1(fonts: FontSet) -> None:
    hana_a = fonts.fonts[1].name
    assert fonts.runs(f"张{JI}{YAN}") == [(fonts.main, "张"), (hana_a, f"{JI}{YAN}")]
    assert fonts.runs(f"王{ZHE}明 A1") == [(fonts.main, "王"), (hana_a, ZHE), (fonts.main, "明 A1")]
    assert fonts.runs("") == []


def test_runs_keep_every_character_in_order(fonts: FontSet) -> None:
    text = f"{JI}张{YAN}{ZHE}李·阿依古丽"
    assert "".join(part for _, part in fonts.runs(text)) == text


def test_missing_names_uncovered_code_points_once_in_order__R_DOC_1(fonts: FontSet) -> None:
    assert fonts.missing(f"张{JI}") == []
    assert fonts.missing(f"张{PRIVATE_USE}王{EXT_G}{PRIVATE_USE}") == ["U+E000", "U+30000"]


def test_uncovered_character_is_refused_not_drawn_as_a_box__R_DOC_1(fonts: FontSet) -> None:
    with pytest.raises(RuleRefusal) as err:
        fonts.ensure_covered(f"李{EXT_G}{PRIVATE_USE}")
    assert err.value.code == "unsupported_character"
    assert err.value.rule == "R-DOC-1"
    assert err.value.params == {"chars": "U+30000 U+E000"}


@pytest.mark.parametrize("call", ["runs", "font_for"])
def test_drawing_helpers_refuse_uncovered_text(fonts: FontSet, call: str) -> None:
    with pytest.raises(RuleRefusal) as err:
        if call == "runs":
            fonts.runs(f"王{PRIVATE_USE}")
        else:
            fonts.font_for(PRIVATE_USE)
    assert err.value.params["chars"] == "U+E000"


def test_missing_font_file_says_to_run_setup(tmp_path: Path) -> None:
    with pytest.raises(FontFilesMissing) as err:
        FontSet(main=tmp_path / "nope.ttc")
    assert "scripts/setup" in str(err.value)
    assert str(tmp_path / "nope.ttc") in str(err.value)
    with pytest.raises(FontFilesMissing):
        FontSet(fallbacks=[DEFAULT_FALLBACKS[0], tmp_path / "gone.ttf"])


def test_fonts_are_registered_once_per_process() -> None:
    a = FontSet()
    b = FontSet(DEFAULT_MAIN, DEFAULT_FALLBACKS)
    assert [f.name for f in a.fonts] == [f.name for f in b.fonts]
    assert load_font(DEFAULT_MAIN) is a.fonts[0]
    for f in a.fonts:
        assert pdfmetrics.getFont(f.name) is f.ttfont


def test_fixed_instance_is_a_separate_reportlab_font(fonts: FontSet) -> None:
    # ReportLab aliases a second font with the same face name to the first; the fixed instance
    # must keep its own subsets (and ASCII-readable codes), or its subset cache never hits.
    main, fixed = pdfmetrics.getFont(fonts.main), pdfmetrics.getFont(fonts.fixed)
    assert main is not fixed
    assert fixed._asciiReadable and not main._asciiReadable
    assert fonts.fixed_covers("使用有效期：2025年03月01日")
    assert not fonts.fixed_covers(YAN)


def test_to_unicode_uses_surrogate_pairs_beyond_the_bmp() -> None:
    assert _to_unicode_hex(0x5F20) == "5F20"
    assert _to_unicode_hex(0x20BB7) == "D842DFB7"
    assert _to_unicode_hex(0x2A6A5) == "D869DEA5"
    cmap = to_unicode_cmap("AAAAAA+X", [0, 0x20BB7, *range(0x4E00, 0x4E00 + 150)])
    assert "<01> <D842DFB7>" in cmap
    # At most 100 entries per bfchar block.
    assert "100 beginbfchar" in cmap and "52 beginbfchar" in cmap
