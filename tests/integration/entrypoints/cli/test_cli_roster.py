"""``ecert roster verify`` (issue 13 item 3), on SQLite and PostgreSQL: a roster of mixed cases gives the
right row for each; a row of someone employed elsewhere says only ``not_employed_by_you`` (R-ACC-1);
the report's JSON verifies as a JWS against the JWKS; bad input is refused whole, never half answered."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from jwcrypto import jwk, jws  # an independent JOSE implementation (not the signer's joserfc)

from ecert.adapters import keystore
from ecert.adapters.signing.jws import canonical, jwks
from helpers_cli import UNKNOWN_NO, USCC_A
from helpers_roster import TODAY, Cases, build_cases, write_roster

ON = "2021-02-25"


@pytest.fixture
def cases(ecert: Any, tmp_path: Path) -> Cases:
    return build_cases(ecert, tmp_path)


def _run(ecert: Any, roster: Path, out: Path, *extra: str, uscc: str = USCC_A) -> Any:
    return ecert("roster", "verify", str(roster), "--as", uscc, "--out", str(out), "--json", *extra, today=TODAY)


def _by_input(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r.get("file") or r["registration_no"]: r for r in rows}


NOTHING_ELSE = ("found", "name", "registration_status", "specialty_valid", "valid_specialties",
                "certificate_status", "serials")  # fmt: skip


def test_a_roster_of_mixed_cases_gives_the_right_row_for_each__R_ACC_1(
    ecert: Any, cases: Cases, tmp_path: Path
) -> None:
    formula = '=HYPERLINK("http://evil.example/","点此")'
    roster = write_roster(
        tmp_path / "roster.csv",
        [[cases.valid, "建筑工程"], [cases.expired, "公路工程"], [cases.other, ""], [UNKNOWN_NO, ""],
         [cases.revoked, ""], [formula, ""], ["not-a-number", ""]],
    )  # fmt: skip
    res = _run(ecert, roster, tmp_path / "out", "--date", TODAY)
    assert res.exit_code == 0, res.stdout + res.stderr
    d = res.json()
    rows = _by_input(d["rows"])
    assert rows[cases.valid]["reason_codes"] == ["ok"]
    assert rows[cases.valid]["certificate_status"] == "valid" and rows[cases.valid]["name"] == "张伟"
    assert rows[cases.expired]["reason_codes"] == ["specialty_not_valid_on_date"]
    assert rows[cases.expired]["specialty_valid"] is False and rows[cases.expired]["valid_specialties"] == ["建筑工程"]
    other = rows[cases.other]
    assert other["reason_codes"] == ["not_employed_by_you"] and other["employed"] is False
    assert all(other[k] is None for k in NOTHING_ELSE), other  # R-ACC-1: nothing else
    assert rows[UNKNOWN_NO]["reason_codes"] == ["not_found"] and rows[UNKNOWN_NO]["found"] is False
    assert rows[cases.revoked]["reason_codes"] == ["registration_inactive"]
    assert rows[cases.revoked]["certificate_status"] == "revoked"
    assert rows["'" + formula]["reason_codes"] == ["formula_cell"]  # neutralised in the JSON too
    assert rows["not-a-number"]["reason_codes"] == ["registration_no_malformed"]
    assert d["counts"]["rows"] == 7 and d["counts"]["ok"] == 1 and d["counts"]["not_employed_by_you"] == 1
    # The three files: the CSV neutralised (no cell a spreadsheet would run), the PDF sealed.
    out = tmp_path / "out"
    assert d["report"] == {k: str(out / f"roster.{k}") for k in ("json", "pdf", "csv")}
    text = (out / "roster.csv").read_text("utf-8-sig")
    cells = [c for line in csv.reader(io.StringIO(text)) for c in line]
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells)
    assert "'" + formula in cells
    pdf = (out / "roster.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and b"/ByteRange" in pdf
    # The same answer on the date before the revocation took effect: the registration was active.
    res = _run(ecert, roster, tmp_path / "out2", "--date", ON)
    assert _by_input(res.json()["rows"])[cases.revoked]["reason_codes"] == ["ok"]


def test_the_signed_json_verifies_against_the_jwks_with_another_jose_implementation(
    ecert: Any, cases: Cases, tmp_path: Path
) -> None:
    roster = write_roster(tmp_path / "roster.csv", [[cases.valid, ""], [cases.other, ""]])
    assert _run(ecert, roster, tmp_path / "out").exit_code == 0
    signed = json.loads((tmp_path / "out" / "roster.json").read_text("utf-8"))
    keys = keystore.qr_public_keys(keystore.key_settings_from_env({"ECERT_KEYS_DIR": str(tmp_path / "var/keys")}))
    keyset = jwk.JWKSet.from_json(json.dumps(jwks(keys)))
    token = jws.JWS()
    token.deserialize(signed["jws"])
    kid = token.jose_header["kid"]
    token.verify(keyset.get_key(kid), alg="EdDSA")
    assert token.payload == canonical(signed["report"])
    report = signed["report"]
    assert report["schema"] == "ecert.roster/1" and report["kid"] == kid and report["complete"] is True
    assert report["question"]["as"] == USCC_A and report["question"]["date"] == TODAY


def test_a_zip_of_certificates_is_verified_as_single_uploads_are(ecert: Any, cases: Cases, tmp_path: Path) -> None:
    bundle = tmp_path / "certs.zip"
    with zipfile.ZipFile(bundle, "w") as z:
        for name in ("valid", "superseded", "tampered", "revoked"):
            z.writestr(f"{name}.pdf", cases.pdfs[name].read_bytes())
        z.writestr("notes.txt", b"not a certificate")
    res = _run(ecert, bundle, tmp_path / "out")
    assert res.exit_code == 0, res.stdout + res.stderr
    rows = _by_input(res.json()["rows"])
    single = {n: ecert("verify", str(cases.pdfs[n]), "--json", today=TODAY).json() for n in cases.pdfs}
    for name in ("valid", "superseded", "tampered", "revoked"):
        assert rows[f"{name}.pdf"]["certificate_status"] == single[name]["status"], name  # the same verdicts
    assert rows["valid.pdf"]["reason_codes"] == ["ok"]
    assert rows["superseded.pdf"]["reason_codes"] == ["certificate_not_valid", "superseded"]
    assert rows["tampered.pdf"]["certificate_status"] == "tampered" and rows["tampered.pdf"]["found"] is None
    assert rows["notes.txt"]["certificate_status"] == "indeterminate"


@pytest.mark.parametrize(
    ("date", "code"),
    [
        ("2021-03-02", "roster_date_future"),
        ("2021-01-31", "roster_date_before_rollout"),
        ("2021-3-1", "roster_date_malformed"),
    ],
)
def test_a_date_it_cannot_answer_for_is_refused_whole(
    ecert: Any, cases: Cases, tmp_path: Path, date: str, code: str
) -> None:
    roster = write_roster(tmp_path / "roster.csv", [[cases.valid, ""]])
    res = _run(ecert, roster, tmp_path / "out", "--date", date)
    assert res.exit_code == 2
    assert [d["code"] for d in res.json()["error"]["details"]] == [code]
    assert not (tmp_path / "out" / "roster.json").exists()


def test_bad_rosters_are_refused_with_a_reason_never_half_answered(
    ecert: Any, cases: Cases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_column = tmp_path / "nocol.csv"
    no_column.write_text("name,phone\n张伟,123\n", "utf-8")
    broken_zip = tmp_path / "broken.zip"
    broken_zip.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    empty = tmp_path / "empty.csv"
    empty.write_text("registration_no,specialty\n\n", "utf-8")
    pdf = cases.pdfs["valid"]
    for path, code in ((no_column, "roster_no_column"), (empty, "roster_empty"), (pdf, "import_format_unsupported"),
                       (broken_zip, "import_xlsx_damaged")):  # fmt: skip
        res = _run(ecert, path, tmp_path / "out")
        assert res.exit_code == 2, (path, res.stdout)
        assert [d.get("code") for d in res.json()["error"]["details"]] == [code], path
    assert not (tmp_path / "out" / "roster.json").exists()


def test_a_roster_of_100000_rows_is_refused_saying_how_many_and_the_limit(
    ecert: Any, cases: Cases, tmp_path: Path
) -> None:
    big = write_roster(tmp_path / "big.csv", [[cases.valid, ""]] * 100_000)
    res = _run(ecert, big, tmp_path / "out")
    assert res.exit_code == 2
    (detail,) = res.json()["error"]["details"]
    assert detail["code"] == "roster_too_large" and "100000" in detail["message"] and "20000" in detail["message"]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_gb18030_roster_and_an_xlsx_with_a_formula(ecert: Any, cases: Cases, tmp_path: Path) -> None:
    import openpyxl

    gb = write_roster(tmp_path / "gb.csv", [[cases.valid, "建筑工程"], [cases.expired, "公路工程"]], encoding="gb18030")
    rows = _by_input(_run(ecert, gb, tmp_path / "o1").json()["rows"])
    assert rows[cases.valid]["reason_codes"] == ["ok"] and rows[cases.valid]["specialty"] == "建筑工程"
    assert rows[cases.expired]["reason_codes"] == ["specialty_not_valid_on_date"]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["注册编号", "注册专业"])
    ws.append([cases.valid, "建筑工程"])
    ws.append([f'=HYPERLINK("http://evil.example/","{cases.valid}")', ""])
    wb.save(tmp_path / "roster.xlsx")
    d = _run(ecert, tmp_path / "roster.xlsx", tmp_path / "o2").json()
    assert [r["reason_codes"] for r in d["rows"]] == [["ok"], ["formula_cell"]]
    assert d["rows"][1]["registration_no"].startswith("'=HYPERLINK")
