"""Provincial-level divisions: the abbreviation used in registration numbers and the GB/T 2260 code."""

from __future__ import annotations

from ecert.domain.errors import BadInput, problem

# abbreviation -> (two-digit GB/T 2260 code, name)
PROVINCES: dict[str, tuple[str, str]] = {
    "京": ("11", "北京"), "津": ("12", "天津"), "冀": ("13", "河北"), "晋": ("14", "山西"),
    "蒙": ("15", "内蒙古"), "辽": ("21", "辽宁"), "吉": ("22", "吉林"), "黑": ("23", "黑龙江"),
    "沪": ("31", "上海"), "苏": ("32", "江苏"), "浙": ("33", "浙江"), "皖": ("34", "安徽"),
    "闽": ("35", "福建"), "赣": ("36", "江西"), "鲁": ("37", "山东"), "豫": ("41", "河南"),
    "鄂": ("42", "湖北"), "湘": ("43", "湖南"), "粤": ("44", "广东"), "桂": ("45", "广西"),
    "琼": ("46", "海南"), "渝": ("50", "重庆"), "川": ("51", "四川"), "贵": ("52", "贵州"),
    "云": ("53", "云南"), "藏": ("54", "西藏"), "陕": ("61", "陕西"), "甘": ("62", "甘肃"),
    "青": ("63", "青海"), "宁": ("64", "宁夏"), "新": ("65", "新疆"),
}  # fmt: skip
# Alternative abbreviations seen in the wild map to the same province.
ALIASES: dict[str, str] = {"黔": "贵", "滇": "云", "蜀": "川", "陇": "甘", "秦": "陕"}

CODE_TO_ABBR: dict[str, str] = {code: abbr for abbr, (code, _name) in PROVINCES.items()}
PROVINCE_CODES: frozenset[str] = frozenset(CODE_TO_ABBR)


def code_of_abbreviation(abbr: str) -> str | None:
    abbr = ALIASES.get(abbr, abbr)
    entry = PROVINCES.get(abbr)
    return entry[0] if entry else None


def normalize_province(value: str) -> str:
    """``浙`` or ``33`` (or 浙江) -> ``33``. Raises BadInput naming the value."""
    v = value.strip()
    if v in PROVINCE_CODES:
        return v
    code = code_of_abbreviation(v)
    if code:
        return code
    for abbr, (c, name) in PROVINCES.items():
        if v in (name, abbr):
            return c
    raise BadInput([problem(f"未知的省份:{value}", f"Unknown province: {value}", column="province")])


def abbreviation(code: str) -> str:
    return CODE_TO_ABBR[code]


def name(code: str) -> str:
    return PROVINCES[CODE_TO_ABBR[code]][1]
