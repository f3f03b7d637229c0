"""The import's fast path (``fast_validator``) accepts exactly the rows ``validate_row`` accepts, with
the same staging values, so the messages of a bad row always come from ``validate_row``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ecert.domain.ids import id_number_check_char, make_id_number, make_uscc
from ecert.domain.model import Gender
from ecert.services.registry_import import REQUIRED_COLUMNS, fast_validator, validate_row
from ecert.services.synthetic import HEADER, generate_rows

TODAY = date(2021, 3, 1)
COLUMNS = [*HEADER, "email"]
INDEX = {c: i for i, c in enumerate(COLUMNS)}
ROWS = [[*r, f"h{i}@example.cn" if i % 3 else ""] for i, r in enumerate(generate_rows(60, today=TODAY))]
TRICKY: dict[str, list[str]] = {
    "registration_no": [
        "京111050700001",
        "京191050700001",
        "京112050700001",
        "京211050700001",
        "京1110507000011",
        "浙1141989199000001",
        "浙1142024202301467",
        "浙1142101210100001",
        "黔1522020202000001",
        "X1142020202000001",
        "浙1142020２02000001",
        "浙1992020202000001",
        " 浙1332020202000001 ",
    ],
    "name": [
        "",
        " ",
        "王伟",
        "张𠮷",
        "阿依古丽·买买提",
        "Ｗ",
        "e\u0301",
        "王1",
        "王!",
        "王\u3000伟",
        "王" * 51,
        "Anna Li",
    ],
    "gender": ["男", " 女 ", "M", "", "男女"],
    "birth_date": ["1980-01-01", " 1980-01-01", "1980-1-1", "19800101", "1980-W01-1", "1980-02-30", "2021-03-01"],
    "id_number": [
        make_id_number("330100", date(1980, 1, 1), 1, Gender.MALE),
        make_id_number("330100", date(1980, 1, 1), 2, Gender.FEMALE),
        "11010017991231011" + id_number_check_char("11010017991231011"),
        "33010019800101001",
        "3301001980010100１X",
        "990100198001010010",
        "330100198013010010",
    ],
    "employer_name": ["", " ", "某公司", "公" * 200, "公" * 201],
    "employer_uscc": [make_uscc("330100", "MA2AB3C4D"), make_uscc("330100", "MA2AB3C4D").lower(), "91330100MA2AB3C4DX"],
    "specialty": ["建筑工程", " 市政公用工程 ", "bad", ""],
    "valid_until": ["2022-01-01", "2022-13-01", "", " 2019-02-28 "],
    "ce_hours": ["", "0", "10000", "10001", "-1", "١٢", " 7 ", "7.0"],
    "email": ["", "a@b.c", "a@@b.c", "a@b", " x@y.z ", "@.", "a" * 250 + "@b.cn"],
}
ID_X = "11010519491231002X"


def _variants(row: list[str]) -> st.SearchStrategy[list[str]]:
    col = st.sampled_from(range(len(COLUMNS)))

    def edit(i: int, how: str, value: str, pos: int) -> list[str]:
        out = list(row)
        cur = out[i]
        if how == "tricky":
            out[i] = value
        elif how == "pad":
            out[i] = f" {cur}\t"
        elif how == "lower":
            out[i] = cur.lower()
        elif how == "char" and cur:
            k = pos % len(cur)
            out[i] = cur[:k] + value[:1] + cur[k + 1 :]
        elif how == "random":
            out[i] = value
        return out

    return col.flatmap(
        lambda i: st.builds(
            edit,
            st.just(i),
            st.sampled_from(["tricky", "pad", "lower", "char", "random", "none"]),
            st.sampled_from(TRICKY.get(COLUMNS[i], [""]) or [""]) | st.text(max_size=20),
            st.integers(0, 40),
        )
    )


def slow_path(n: int, rec: list[str]) -> tuple[Any, ...] | None:
    """The staging values ``validate_row`` makes of row ``n``, None when it refuses the row."""
    return validate_row(n, dict(zip(COLUMNS, rec, strict=True)), TODAY, Path("."))[0]


def assert_fast_path_agrees(rows: list[list[str]]) -> None:
    fast = fast_validator(INDEX, len(COLUMNS), TODAY)
    for n, rec in enumerate(rows, start=2):
        assert fast(n, rec) == slow_path(n, rec)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(ROWS).flatmap(_variants), min_size=1, max_size=6))
def test_fast_path_agrees_with_validate_row(rows: list[list[str]]) -> None:
    assert_fast_path_agrees(rows)


def test_fast_path_takes_every_synthetic_row_and_the_lower_case_x() -> None:
    fast = fast_validator(INDEX, len(COLUMNS), TODAY)
    for n, rec in enumerate(ROWS, start=2):
        got = fast(n, rec)
        assert got is not None and got == slow_path(n, rec)
    rec = list(ROWS[0])
    rec[COLUMNS.index("id_number")] = ID_X.lower()
    rec[COLUMNS.index("birth_date")] = "1949-12-31"
    rec[COLUMNS.index("gender")] = "女"
    got = fast(2, rec)
    assert got is not None and got[7] == ID_X


def test_short_rows_and_images_go_the_slow_way() -> None:
    cols = [*REQUIRED_COLUMNS, "photo"]
    fast = fast_validator({c: i for i, c in enumerate(cols)}, len(cols), TODAY)
    assert fast(2, ROWS[0][:8]) is None
    assert fast(2, [*ROWS[0][:9], "p.png"]) is None


@st.composite
def _coherent(draw: st.DrawFn) -> list[str]:
    """A row whose parts mostly fit together, near the edges: years 1799/1800, legacy numbers,
    qualified/registered years around 1990 and 2100, check characters right or wrong."""
    birth = draw(st.dates(date(1795, 1, 1), date(1805, 1, 1)) | st.dates(date(1805, 1, 1), date(2022, 1, 1)))
    male = draw(st.booleans())
    abbr = draw(st.sampled_from(["浙", "京", "黔", "秦", "浙", "京", "X", "〇"]))
    level = draw(st.sampled_from("1111112"))
    prov = draw(st.sampled_from(["33", "11", "33", "11", "99", "00"]))
    if draw(st.booleans()):
        yq, yr = draw(st.integers(1985, 2105)), draw(st.integers(1985, 2105))
        reg = f"{abbr}{level}{prov}{yq:04d}{yr:04d}{draw(st.integers(0, 99999)):05d}"
    else:
        yq, yr = draw(st.integers(0, 99)), draw(st.integers(0, 99))
        reg = f"{abbr}{level}{prov}{yq:02d}{yr:02d}{draw(st.integers(0, 99999)):05d}"
    idb = birth if draw(st.integers(0, 4)) else draw(st.dates(date(1795, 1, 1), date(2022, 1, 1)))
    digit17 = draw(st.integers(0, 4)) * 2 + (1 if male == bool(draw(st.integers(0, 5))) else 0)
    first17 = (
        f"{draw(st.sampled_from(['33', '11', '33', '99']))}0100{idb.year:04d}{idb.month:02d}{idb.day:02d}01{digit17}"
    )
    check = id_number_check_char(first17) if draw(st.integers(0, 4)) else draw(st.sampled_from("0123456789Xx"))
    idn = first17 + (check.lower() if draw(st.booleans()) else check)
    row = list(ROWS[draw(st.integers(0, len(ROWS) - 1))])
    row[COLUMNS.index("registration_no")] = reg
    row[COLUMNS.index("birth_date")] = birth.isoformat()
    row[COLUMNS.index("gender")] = "男" if male else "女"
    row[COLUMNS.index("id_number")] = idn
    return row


@settings(max_examples=1500, deadline=None)
@given(st.lists(_coherent(), min_size=1, max_size=3))
def test_fast_path_agrees_near_the_edges(rows: list[list[str]]) -> None:
    assert_fast_path_agrees(rows)


def test_fast_path_with_date_objects() -> None:
    as_text = fast_validator(INDEX, len(COLUMNS), TODAY)
    as_dates = fast_validator(INDEX, len(COLUMNS), TODAY, iso_dates=False)
    for n, rec in enumerate(ROWS[:20], start=2):
        t, d = as_text(n, rec), as_dates(n, rec)
        assert t is not None and d is not None
        assert d[6] == date.fromisoformat(t[6]) and d[11] == date.fromisoformat(t[11])
        assert d[:6] + d[7:11] + d[12:] == t[:6] + t[7:11] + t[12:]


def test_a_superscript_digit_in_ce_hours_is_a_bad_value_not_a_crash() -> None:
    rec = dict(zip(COLUMNS, ROWS[0], strict=True))
    for value in ("¹", "1²"):
        staged, probs, _ = validate_row(2, {**rec, "ce_hours": value}, TODAY, Path("."))
        assert staged is None and [p.column for p in probs] == ["ce_hours"]
    staged, probs, _ = validate_row(2, {**rec, "ce_hours": "١٢"}, TODAY, Path("."))  # Arabic-Indic 12
    assert staged is not None and staged[12] == 12
