"""Holder names: what the registry accepts, and which characters need a fallback font.

Names may contain rare CJK characters (Extension A, B and beyond). The registry accepts them; the
certificate renderer must know which ones are outside the basic CJK block, so they are flagged.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from ecert.domain.errors import BadInput, problem

MAX_NAME_LENGTH = 50
# The middle dot used in transliterated names (阿依古丽·买买提); both common code points.
NAME_SEPARATORS = frozenset("·•・.")


def is_basic_cjk(ch: str) -> bool:
    """CJK Unified Ideographs U+4E00–U+9FFF: what every common Chinese font carries."""
    return "\u4e00" <= ch <= "\u9fff"


# Shortcuts for the common case, one C-speed match instead of a loop over the characters: every
# character basic CJK, ASCII or a separator (no rare characters), and every character basic CJK.
_PLAIN = re.compile("[\\x00-\\x7f\\u4e00-\\u9fff" + "".join(map(re.escape, sorted(NAME_SEPARATORS))) + "]*")
_BASIC_CJK = re.compile("[\\u4e00-\\u9fff]+")


@functools.cache
def _basic_cjk_allowed() -> bool:
    """Whether validate_name's character check passes every basic CJK character under this Python's
    Unicode data (it does for Unicode 14: all are assigned letters); if not, no shortcut."""
    return not any(_refused(chr(cp)) for cp in range(0x4E00, 0xA000))


def _refused(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return (cat[0] in "CZ" and ch != " ") or cat[0] in "NS" or (cat[0] == "P" and ch not in NAME_SEPARATORS)


def rare_characters(name: str) -> list[str]:
    """Code points (``U+20BB7``) of name characters outside basic CJK, ASCII and separators."""
    if _PLAIN.fullmatch(name):
        return []
    out = []
    for ch in name:
        if is_basic_cjk(ch) or ch.isascii() or ch in NAME_SEPARATORS:
            continue
        out.append(f"U+{ord(ch):04X}")
    return out


def validate_name(raw: str, *, column: str = "name") -> str:
    """NFC-normalised name, or BadInput saying what is wrong. Rare characters are accepted."""
    name = unicodedata.normalize("NFC", raw.strip())
    if not name:
        raise BadInput([problem("姓名不能为空", "Name is empty", column=column)])
    if len(name) > MAX_NAME_LENGTH:
        raise BadInput([problem(f"姓名过长({len(name)} 字)", f"Name too long ({len(name)} characters)", column=column)])
    if _BASIC_CJK.fullmatch(name) and _basic_cjk_allowed():
        return name
    for ch in name:
        if _refused(ch):
            cp = f"U+{ord(ch):04X}"
            raise BadInput(
                [problem(f"姓名含有不允许的字符 {cp}", f"Name contains a character not allowed: {cp}", column=column)]
            )
    return name
