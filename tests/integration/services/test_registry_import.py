"""Registry import (docs/cli.md "Import columns", ``ecert import FILE --json``): CSV in UTF-8 (with and
without BOM) and GB18030, XLSX with typed cells; all or nothing; every bad row named with its
spreadsheet row number (header = 1) and column."""

from __future__ import annotations

import csv
import struct
import zipfile
import zlib
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import Engine, func, select

from ecert.adapters.db.tables import audit_events, holder_images, registrations, specialty_registrations
from ecert.domain.ids import make_id_number, make_registration_no, make_uscc
from ecert.domain.model import Gender
from ecert.domain.provinces import code_of_abbreviation
from ecert.services.registry_import import import_registry
from helpers_cli import COLUMNS as HEADER

TODAY = "2021-03-01"
USCC = make_uscc("330100", "MA2AB3C4D")
OTHER_USCC = make_uscc("110100", "MA7KX8Y9T")
EMPLOYER = "浙江华建建设集团有限公司"


def holder(
    serial: int,
    *,
    abbr: str = "浙",
    name: str = "张伟",
    gender: Gender = Gender.MALE,
    birth: date = date(1980, 5, 17),
    employer: str = EMPLOYER,
    uscc: str = USCC,
) -> dict[str, str]:
    code = code_of_abbreviation(abbr)
    assert code is not None
    return {
        "registration_no": make_registration_no(abbr, code, 2010, 2012, serial),
        "name": name,
        "gender": gender.value,
        "birth_date": birth.isoformat(),
        "id_number": make_id_number(f"{code}01{serial // 100 % 100:02d}", birth, serial % 100, gender),
        "employer_name": employer,
        "employer_uscc": uscc,
    }


def row(
    h: dict[str, str], specialty: str = "建筑工程", valid_until: str = "2023-06-30", **extra: str
) -> dict[str, str]:
    return {**h, "specialty": specialty, "valid_until": valid_until, **extra}


def write_csv(
    path: Path, rows: Sequence[dict[str, str]], header: Sequence[str] = HEADER, encoding: str = "utf-8"
) -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(c, "") for c in header])
    return path


def png_bytes(width: int = 3, height: int = 2) -> bytes:
    """A real, minimal RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\x10\x20\x30" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(registrations)).scalar_one(),
            conn.execute(select(func.count()).select_from(specialty_registrations)).scalar_one(),
            conn.execute(select(func.count()).select_from(holder_images)).scalar_one(),
        )


def registration_row(engine: Engine, registration_no: str) -> dict[str, Any]:
    with engine.connect() as conn:
        r = conn.execute(select(registrations).where(registrations.c.registration_no == registration_no)).one()
        return dict(r._mapping)


def snapshot(engine: Engine) -> tuple[Any, ...]:
    """Everything an import may touch, for before/after equality."""
    with engine.connect() as conn:
        regs = [tuple(r) for r in conn.execute(select(registrations).order_by(registrations.c.id))]
        specs = [tuple(r) for r in conn.execute(select(specialty_registrations).order_by(specialty_registrations.c.id))]
        audit = conn.execute(select(func.count()).select_from(audit_events)).scalar_one()
    return regs, specs, audit


def a_valid_file(tmp_path: Path, name: str = "registry.csv") -> tuple[Path, list[dict[str, str]]]:
    a = holder(1, name="张伟")
    b = holder(2, abbr="京", name="李娜", gender=Gender.FEMALE, birth=date(1975, 12, 1), uscc=OTHER_USCC)
    c = holder(3, abbr="晋", name="王建国", birth=date(1960, 2, 29))
    rows = [row(a), row(a, "市政公用工程", "2021-03-20"), row(b, "公路工程", "2024-01-15"), row(c, "机电工程")]
    return write_csv(tmp_path / name, rows), [a, b, c]


def a_valid_file_imported(ecert: Any, tmp_path: Path) -> tuple[Path, list[dict[str, str]]]:
    """:func:`a_valid_file`, imported already."""
    path, holders = a_valid_file(tmp_path)
    assert ecert("import", str(path), "--json", today=TODAY).exit_code == 0
    return path, holders


# ---------------------------------------------------------------------------------------------- valid files


def test_valid_utf8_csv_is_imported__contract_import(ecert: Any, engine: Engine, tmp_path: Path) -> None:
    path, (a, b, _c) = a_valid_file(tmp_path)
    res = ecert("import", str(path), "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout
    out = res.json()
    assert {"imported", "updated", "rows"} <= out.keys()
    assert (out["imported"], out["updated"], out["rows"]) == (3, 0, 4)
    assert counts(engine) == (3, 4, 0)
    shown = ecert("holder", "show", a["registration_no"], "--json", today=TODAY).json()
    assert shown["name"] == "张伟"
    assert [(s["specialty"], s["valid_until"]) for s in shown["specialties"]] == [
        ("建筑工程", "2023-06-30"),
        ("市政公用工程", "2021-03-20"),
    ]
    stored = registration_row(engine, b["registration_no"])
    assert (stored["gender"], stored["birth_date"], stored["id_number"]) == ("女", date(1975, 12, 1), b["id_number"])
    assert (stored["employer_name"], stored["employer_uscc"], stored["province_code"]) == (EMPLOYER, OTHER_USCC, "11")
    assert stored["data_version"] == 1


def test_utf8_csv_with_bom_is_imported__contract_import(ecert: Any, engine: Engine, tmp_path: Path) -> None:
    a = holder(11, name="赵丽")
    path = write_csv(tmp_path / "bom.csv", [row(a)], encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    res = ecert("import", str(path), "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout
    assert (res.json()["imported"], res.json()["rows"]) == (1, 1)
    assert registration_row(engine, a["registration_no"])["name"] == "赵丽"


def test_gb18030_csv_with_chinese_and_rare_names_is_imported__contract_import(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    a = holder(21, name="欧阳建华", employer="山西鼎盛建筑工程有限公司")
    b = holder(22, name="王𠮷", gender=Gender.FEMALE, birth=date(1990, 1, 9))
    path = write_csv(tmp_path / "gbk.csv", [row(a, "矿业工程"), row(b, "水利水电工程")], encoding="gb18030")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    res = ecert("import", str(path), "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout
    assert (res.json()["imported"], res.json()["rows"]) == (2, 2)
    stored = registration_row(engine, a["registration_no"])
    assert (stored["name"], stored["employer_name"]) == ("欧阳建华", "山西鼎盛建筑工程有限公司")
    assert registration_row(engine, b["registration_no"])["name"] == "王𠮷"
    shown = ecert("holder", "show", a["registration_no"], "--json", today=TODAY).json()
    assert shown["specialties"][0]["specialty"] == "矿业工程"


def _xlsx(path: Path, rows: Sequence[Sequence[Any]], header: Sequence[str] = HEADER) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(header))
    for r in rows:
        ws.append(list(r))
    wb.save(path)
    return path


def _set_number_cells(path: Path, exact: dict[float, int]) -> None:
    """Rewrite numeric placeholder cells to exact integers in the sheet XML (openpyxl itself writes
    large ints through a float; other tools write every digit)."""
    with zipfile.ZipFile(path) as z:
        entries = {i.filename: z.read(i) for i in z.infolist()}
    sheet = entries["xl/worksheets/sheet1.xml"].decode("utf-8")
    for placeholder, value in exact.items():
        needle = f"<v>{placeholder!r}</v>"
        assert sheet.count(needle) == 1, needle
        sheet = sheet.replace(needle, f"<v>{value}</v>")
    entries["xl/worksheets/sheet1.xml"] = sheet.encode("utf-8")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)


def test_xlsx_with_typed_cells_is_imported__contract_import(ecert: Any, engine: Engine, tmp_path: Path) -> None:
    a = holder(31, name="陈静", gender=Gender.FEMALE, birth=date(1985, 7, 4))
    b = holder(32, name="刘强", birth=date(1970, 10, 31))
    assert not a["id_number"].endswith("X") and not b["id_number"].endswith("X")
    header = [*HEADER, "ce_hours"]
    # Real date cells (datetime and date), the ID number as a number cell, hours as numbers.
    a_cells = [a["registration_no"], a["name"], a["gender"], datetime(1985, 7, 4), 1.5, a["employer_name"], USCC]
    b_cells = [b["registration_no"], b["name"], b["gender"], date(1970, 10, 31), b["id_number"], b["employer_name"]]
    rows = [
        [*a_cells, "建筑工程", datetime(2023, 5, 31), 120],
        [*b_cells, USCC, "铁路工程", date(2022, 1, 1), 96.0],
    ]
    path = _xlsx(tmp_path / "registry.xlsx", rows, header)
    _set_number_cells(path, {1.5: int(a["id_number"])})
    wb = openpyxl.load_workbook(path, read_only=True)
    cell = wb.worksheets[0].cell(row=2, column=5).value
    wb.close()
    assert cell == int(a["id_number"]) and isinstance(cell, int)
    res = ecert("import", str(path), "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout
    assert (res.json()["imported"], res.json()["updated"], res.json()["rows"]) == (2, 0, 2)
    sa = registration_row(engine, a["registration_no"])
    assert (sa["id_number"], sa["birth_date"], sa["ce_hours"]) == (a["id_number"], date(1985, 7, 4), 120)
    assert registration_row(engine, b["registration_no"])["ce_hours"] == 96
    shown = ecert("holder", "show", a["registration_no"], "--json", today=TODAY).json()
    assert shown["specialties"] == [{"specialty": "建筑工程", "valid_until": "2023-05-31", "state": "valid"}]


def test_xlsx_id_number_that_lost_digits_as_a_float_is_a_named_bad_row__contract_import(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    """Excel keeps 15 significant digits: an ID number typed as a number comes back wrong and must be
    reported as a bad row, not stored."""
    a = holder(33)
    mangled = float(a["id_number"][:15] + "000")  # what Excel keeps of an 18-digit number
    rows = [
        [
            a["registration_no"],
            a["name"],
            a["gender"],
            a["birth_date"],
            mangled,
            EMPLOYER,
            USCC,
            "建筑工程",
            "2023-01-01",
        ]
    ]
    res = ecert("import", str(_xlsx(tmp_path / "f.xlsx", rows)), "--json", today=TODAY)
    assert res.exit_code == 2, res.stdout
    details = res.json()["error"]["details"]
    assert [(d["row"], d["column"]) for d in details] == [(2, "id_number")]
    assert counts(engine) == (0, 0, 0)


def test_empty_trailing_rows_are_ignored__contract_import(ecert: Any, engine: Engine, tmp_path: Path) -> None:
    a = holder(41)
    path = write_csv(tmp_path / "trailing.csv", [row(a), row(a, "公路工程")])
    with path.open("a", encoding="utf-8", newline="") as f:
        f.write(",,,,,,,,\r\n\r\n , ,,,,,,,\r\n,,,,,,,,\r\n")
    res = ecert("import", str(path), "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout
    assert (res.json()["imported"], res.json()["rows"]) == (1, 2)

    b = holder(42)
    xlsx = _xlsx(tmp_path / "trailing.xlsx", [[*(b[c] for c in HEADER[:7]), "建筑工程", "2023-01-01"]])
    wb = openpyxl.load_workbook(xlsx)
    ws = wb.active
    for r in range(3, 8):  # cells that exist (formatted, empty) below the data, as Excel leaves them
        for c in range(1, 10):
            ws.cell(row=r, column=c).number_format = "@"
    ws.cell(row=6, column=2).value = ""
    wb.save(xlsx)
    res = ecert("import", str(xlsx), "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout
    assert (res.json()["imported"], res.json()["rows"]) == (1, 1)
    assert counts(engine)[:2] == (2, 3)


# ---------------------------------------------------------------------------------------------- re-import


def test_reimport_of_the_same_file_imports_nothing_and_duplicates_nothing__contract_import(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    path, (a, _b, _c) = a_valid_file_imported(ecert, tmp_path)
    before = counts(engine)
    version = registration_row(engine, a["registration_no"])["data_version"]
    res = ecert("import", str(path), "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout
    assert (res.json()["imported"], res.json()["updated"], res.json()["rows"]) == (0, 0, 4)
    assert counts(engine) == before == (3, 4, 0)
    assert registration_row(engine, a["registration_no"])["data_version"] == version


def test_changed_employer_name_counts_as_updated_and_bumps_data_version__contract_import_R_CHG_1(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    _, (a, b, c) = a_valid_file_imported(ecert, tmp_path)
    v_a = registration_row(engine, a["registration_no"])["data_version"]
    v_b = registration_row(engine, b["registration_no"])["data_version"]
    renamed = {**a, "employer_name": "浙江华建建设集团股份有限公司"}
    rows = [
        row(renamed),
        row(renamed, "市政公用工程", "2021-03-20"),
        row(b, "公路工程", "2024-01-15"),
        row(c, "机电工程"),
    ]
    res = ecert("import", str(write_csv(tmp_path / "renamed.csv", rows)), "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout
    assert (res.json()["imported"], res.json()["updated"], res.json()["rows"]) == (0, 1, 4)
    stored = registration_row(engine, a["registration_no"])
    assert stored["employer_name"] == "浙江华建建设集团股份有限公司"
    assert stored["data_version"] == v_a + 1
    assert registration_row(engine, b["registration_no"])["data_version"] == v_b
    assert counts(engine) == (3, 4, 0)


def test_import_through_the_service_returns_the_contract_counts__contract_import(
    make_app: Any, engine: Engine, tmp_path: Path
) -> None:
    path, _ = a_valid_file(tmp_path)
    app = make_app(date(2021, 3, 1))
    result = import_registry(app.uow(), path, today=app.clock.today(), now=app.clock.now(), actor="test")
    d = result.as_dict()
    assert (d["imported"], d["updated"], d["rows"]) == (3, 0, 4)
    again = import_registry(app.uow(), path, today=app.clock.today(), now=app.clock.now(), actor="test").as_dict()
    assert (again["imported"], again["updated"], again["rows"]) == (0, 0, 4)
    assert counts(engine) == (3, 4, 0)


# ---------------------------------------------------------------------------------------------- bad files


def _bad_id_check_digit(h: dict[str, str]) -> dict[str, str]:
    idn = h["id_number"]
    wrong = "0" if idn[-1] != "0" else "1"
    return {**h, "id_number": idn[:17] + wrong}


def _bad_uscc(h: dict[str, str]) -> dict[str, str]:
    u = h["employer_uscc"]
    wrong = "1" if u[-1] != "1" else "2"
    return {**h, "employer_uscc": u[:17] + wrong}


def per_row_bad_rows() -> tuple[list[dict[str, str]], list[tuple[int, str]]]:
    """Rows that are each wrong on their own, with the (row, column) each must be reported at."""
    good = holder(100)
    rows = [
        row(good),  # 2: fine
        row(_bad_id_check_digit(holder(101))),  # 3
        row({**holder(102), "birth_date": "1980-05-18"}),  # 4: ID number says 1980-05-17
        row(_bad_uscc(holder(103))),  # 5
        row(holder(104), "土木工程"),  # 6: not one of the ten specialties
        row(holder(105), valid_until="2023/06/30"),  # 7
        row({**holder(106), "gender": "M"}),  # 8
        row(holder(107), "港口与航道工程"),  # 9: fine
        row(holder(108), valid_until="2023-02-30"),  # 10: no such day
    ]
    expected = [
        (3, "id_number"),
        (4, "id_number"),
        (5, "employer_uscc"),
        (6, "specialty"),
        (7, "valid_until"),
        (8, "gender"),
        (10, "valid_until"),
    ]
    return rows, expected


def cross_row_bad_rows() -> tuple[list[dict[str, str]], list[tuple[int, str]]]:
    """Rows that are only wrong together with another row of the same registration."""
    x = holder(120, name="周杰")
    y = holder(121, name="吴敏")
    rows = [
        row(x),  # 2
        row({**x, "name": "周洁"}, "公路工程"),  # 3: same registration, another name
        row(y),  # 4
        row(y, "建筑工程", "2024-01-01"),  # 5: the same specialty twice
    ]
    return rows, [(3, "name"), (5, "specialty")]


def _details(res: Any) -> list[dict[str, Any]]:
    """The per-row problems of an import refused as a whole (exit status 2, ``bad_input``)."""
    assert res.exit_code == 2, res.stdout
    body = res.json()
    assert body["error"]["code"] == "bad_input"
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    details: list[dict[str, Any]] = body["error"]["details"]
    for d in details:
        assert {"row", "column", "message"} <= d.keys(), d
        assert isinstance(d["message"], str) and d["message"]
    return details


def refused_import(ecert: Any, path: Path) -> list[dict[str, Any]]:
    """Imports ``path``, which must be refused as a whole; returns the problems it names."""
    return _details(ecert("import", str(path), "--json", today=TODAY))


def _named(details: list[dict[str, Any]]) -> set[tuple[int, str]]:
    return {(d["row"], d["column"]) for d in details}


def test_bad_rows_are_all_named_and_nothing_is_imported__contract_import(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    rows, expected = per_row_bad_rows()
    details = refused_import(ecert, write_csv(tmp_path / "bad.csv", rows))
    assert _named(details) == set(expected)
    assert {d["row"] for d in details} == {r for r, _ in expected}  # rows 2 and 9 are fine
    assert counts(engine) == (0, 0, 0)


def test_cross_row_conflicts_are_named_and_nothing_is_imported__contract_import(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    rows, expected = cross_row_bad_rows()
    assert _named(refused_import(ecert, write_csv(tmp_path / "bad.csv", rows))) == set(expected)
    assert counts(engine) == (0, 0, 0)


def test_row_and_cross_row_problems_in_one_file_are_all_named__contract_import(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    own, own_expected = per_row_bad_rows()
    cross, cross_expected = cross_row_bad_rows()
    offset = len(own)
    expected = set(own_expected) | {(r + offset, c) for r, c in cross_expected}
    assert _named(refused_import(ecert, write_csv(tmp_path / "bad.csv", own + cross))) == expected
    assert counts(engine) == (0, 0, 0)


def test_missing_required_column_is_named_on_the_header_row__contract_import(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    header = [c for c in HEADER if c != "employer_uscc"]
    path = write_csv(tmp_path / "nocol.csv", [row(holder(130))], header=header)
    assert _named(refused_import(ecert, path)) == {(1, "employer_uscc")}
    assert counts(engine) == (0, 0, 0)


def test_bad_file_leaves_an_existing_registry_unchanged__contract_import(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    _, (a, b, _c) = a_valid_file_imported(ecert, tmp_path)
    before_db = snapshot(engine)
    before_a = ecert("holder", "show", a["registration_no"], "--json", today=TODAY).json()
    # The same holder with a changed employer and a new specialty, next to bad rows.
    changed = {**a, "employer_name": "别的公司有限公司"}
    bad_rows, expected = per_row_bad_rows()
    rows = [row(changed), row(changed, "机电工程"), row(b, "公路工程", "2030-01-01"), *bad_rows]
    assert _named(refused_import(ecert, write_csv(tmp_path / "bad.csv", rows))) == {(r + 3, c) for r, c in expected}
    assert snapshot(engine) == before_db
    assert ecert("holder", "show", a["registration_no"], "--json", today=TODAY).json() == before_a
    # A bad file with only cross-row conflicts, which are found after the rows were staged.
    cross, _ = cross_row_bad_rows()
    res = ecert("import", str(write_csv(tmp_path / "bad2.csv", [row(changed), *cross])), "--json", today=TODAY)
    assert res.exit_code == 2, res.stdout
    assert snapshot(engine) == before_db


def test_lang_en_gives_english_messages__contract_import(ecert: Any, tmp_path: Path) -> None:
    rows, expected = per_row_bad_rows()
    path = write_csv(tmp_path / "bad.csv", rows)
    for res in (
        ecert("--lang", "en", "import", str(path), "--json", today=TODAY),
        ecert("import", str(path), "--json", today=TODAY, lang="en"),
    ):
        details = _details(res)
        assert _named(details) == set(expected)
        assert res.json()["error"]["message"].startswith("Bad input")
        by_row = {d["row"]: d["message"] for d in details}
        assert "check digit" in by_row[3]
        assert "Gender" in by_row[8]
        # English prose (values from the file are quoted as they are, Chinese or not).
        assert all(d["message"][:1].isascii() and d["message"][:1].isalpha() for d in details), details
    zh = {d["row"]: d["message"] for d in refused_import(ecert, path)}
    assert "校验位" in zh[3]
    assert all(not m[:1].isascii() for m in zh.values()), zh


def test_without_json_errors_go_to_stderr_with_row_and_column__contract_import(ecert: Any, tmp_path: Path) -> None:
    rows, _ = per_row_bad_rows()
    res = ecert("import", str(write_csv(tmp_path / "bad.csv", rows)), today=TODAY)
    assert res.exit_code == 2
    assert "row=3 column=id_number" in res.stderr


# ---------------------------------------------------------------------------------------------- names, images

RARE_NAMES = ["王𠮷", "李䶮", "𪚥明"]


def test_rare_character_names_round_trip_and_are_flagged__contract_import(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    people = [holder(140 + i, name=n) for i, n in enumerate(RARE_NAMES)]
    plain = holder(150, name="张伟")
    path = write_csv(tmp_path / "rare.csv", [*(row(p) for p in people), row(plain)])
    res = ecert("import", str(path), "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout
    for p, flags in zip(people, ["U+20BB7", "U+4DAE", "U+2A6A5"], strict=True):
        shown = ecert("holder", "show", p["registration_no"], "--json", today=TODAY)
        assert shown.json()["name"] == p["name"]
        assert p["name"] in shown.stdout  # not \u-escaped, the characters themselves
        assert registration_row(engine, p["registration_no"])["name_rare_chars"] == flags
    assert registration_row(engine, plain["registration_no"])["name_rare_chars"] is None


def test_signature_image_relative_to_the_file_is_stored__contract_import(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    (tmp_path / "sig").mkdir()
    (tmp_path / "sig" / "a.png").write_bytes(png_bytes())
    a = holder(160)
    b = holder(161)
    header = [*HEADER, "signature_image"]
    rows = [row(a, signature_image="sig/a.png"), row(a, "公路工程"), row(b)]
    res = ecert("import", str(write_csv(tmp_path / "with_sig.csv", rows, header)), "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout
    assert ecert("holder", "show", a["registration_no"], "--json", today=TODAY).json()["has_signature"] is True
    assert ecert("holder", "show", b["registration_no"], "--json", today=TODAY).json()["has_signature"] is False
    with engine.connect() as conn:
        img = conn.execute(select(holder_images)).one()
    assert (img.kind, img.content_type, bytes(img.data)) == ("signature", "image/png", png_bytes())
    # The same file again changes nothing: no new image row, no new data version.
    version = registration_row(engine, a["registration_no"])["data_version"]
    again = ecert("import", str(tmp_path / "with_sig.csv"), "--json", today=TODAY)
    assert (again.json()["imported"], again.json()["updated"]) == (0, 0)
    assert counts(engine) == (2, 3, 1)
    assert registration_row(engine, a["registration_no"])["data_version"] == version


def test_changed_signature_image_on_reimport_counts_as_updated__contract_import_R_CHG_1(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    (tmp_path / "a.png").write_bytes(png_bytes())
    (tmp_path / "b.png").write_bytes(png_bytes(4, 4))
    a = holder(165)
    header = [*HEADER, "signature_image"]
    first = write_csv(tmp_path / "first.csv", [row(a, signature_image="a.png")], header)
    assert ecert("import", str(first), "--json", today=TODAY).exit_code == 0
    version = registration_row(engine, a["registration_no"])["data_version"]
    second = write_csv(tmp_path / "second.csv", [row(a, signature_image="b.png")], header)
    res = ecert("import", str(second), "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout
    assert registration_row(engine, a["registration_no"])["data_version"] == version + 1  # holds today
    assert (res.json()["imported"], res.json()["updated"]) == (0, 1)


def test_missing_signature_image_is_a_named_bad_row__contract_import(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    (tmp_path / "a.png").write_bytes(png_bytes())
    header = [*HEADER, "signature_image"]
    rows = [row(holder(170), signature_image="a.png"), row(holder(171), signature_image="nowhere/b.png")]
    details = refused_import(ecert, write_csv(tmp_path / "sig.csv", rows, header))
    assert _named(details) == {(3, "signature_image")}
    assert "nowhere/b.png" in details[0]["message"]
    assert counts(engine) == (0, 0, 0)
