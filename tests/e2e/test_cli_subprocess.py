"""The real installed ``ecert`` console script, run as operators run it: a subprocess in a working
directory with the default SQLite database (docs/cli.md "Global")."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CONTRACT_KEYS = {"registration_no", "name", "province", "status", "age65_date", "in_rollout", "specialties"}


def ecert_script() -> str:
    beside = Path(sys.executable).parent / "ecert"
    found = str(beside) if beside.exists() else shutil.which("ecert")
    if found is None:
        pytest.fail("the ecert console script is not installed (pip install -e .)")
    return found


def run(cwd: Path, *args: str, today: str = "2021-03-01") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECERT_")}
    env["ECERT_TODAY"] = today
    return subprocess.run(
        [ecert_script(), *args], cwd=cwd, env=env, capture_output=True, text=True, encoding="utf-8", timeout=120
    )


def one_json_object(stdout: str) -> Any:
    """Exactly one JSON object and nothing else on stdout."""
    text = stdout.strip()
    obj, end = json.JSONDecoder().raw_decode(text)
    assert text[end:].strip() == "", f"more than one JSON value on stdout: {stdout!r}"
    assert isinstance(obj, dict)
    return obj


def test_demo_then_holder_show_prints_the_contract_json__contract_holder_show(tmp_path: Path) -> None:
    demo = run(tmp_path, "demo", "--holders", "50", "--json")
    assert demo.returncode == 0, demo.stderr
    out = one_json_object(demo.stdout)
    assert out["holders"] == 50
    first = out["sample_registration_nos"][0]
    show = run(tmp_path, "holder", "show", first, "--json")
    assert show.returncode == 0, show.stderr
    holder = one_json_object(show.stdout)
    assert holder.keys() >= CONTRACT_KEYS
    assert holder["registration_no"] == first
    assert holder["province"] == first[0]
    assert holder["status"] == "active"
    assert holder["specialties"] and all(
        {"specialty", "valid_until", "state"} <= s.keys() for s in holder["specialties"]
    )
    # The default database is var/ecert.db in the working directory.
    assert (tmp_path / "var" / "ecert.db").is_file()
    # Another working directory is another database.
    other = tmp_path / "elsewhere"
    other.mkdir()
    assert run(other, "init", "--json").returncode == 0
    assert (other / "var" / "ecert.db").is_file()
    missing = run(other, "holder", "show", first, "--json")
    assert missing.returncode == 1
    assert one_json_object(missing.stdout)["error"]["code"] == "not_found"


def test_bad_import_exits_2_with_one_json_object__contract_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "registration_no,name,gender,birth_date,id_number,employer_name,employer_uscc,specialty,valid_until\n"
        "浙1332010201200001,张伟,X,1980-13-01,330102198001010011,某公司,913301000000000000,土木工程,2023-01-01\n"
        "浙1332010201200002,李娜,女,1980-01-01,330102198001010022,某公司,913301000000000000,建筑工程,someday\n",
        encoding="utf-8",
    )
    res = run(tmp_path, "import", str(bad), "--json")
    assert res.returncode == 2, res.stdout + res.stderr
    body = one_json_object(res.stdout)
    assert body["error"]["code"] == "bad_input"
    rows = {d["row"] for d in body["error"]["details"]}
    assert rows == {2, 3}
    assert all({"row", "column", "message"} <= d.keys() for d in body["error"]["details"])
    assert (tmp_path / "var" / "ecert.db").is_file()


def test_default_database_is_var_ecert_db_in_the_working_directory__contract_global(tmp_path: Path) -> None:
    res = run(tmp_path, "init", "--json")
    assert res.returncode == 0, res.stderr
    assert "var/ecert.db" in one_json_object(res.stdout)["database"]
    assert (tmp_path / "var" / "ecert.db").is_file()
    # --db takes precedence over the default.
    elsewhere = tmp_path / "other.db"
    res = run(tmp_path, "--db", f"sqlite:///{elsewhere}", "init", "--json")
    assert res.returncode == 0, res.stderr
    assert elsewhere.is_file()
    assert sorted(p.name for p in (tmp_path / "var").iterdir() if p.suffix == ".db") == ["ecert.db"]


def test_unusable_files_are_one_sentence_not_a_traceback__contract_global(tmp_path: Path) -> None:
    """The console script as operators run it: a missing PDF to verify, a PDF to import (docs/cli.md
    "Files named on the command line")."""
    assert run(tmp_path, "init", "--json").returncode == 0
    missing = tmp_path / "nowhere.pdf"
    res = run(tmp_path, "verify", str(missing))
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.strip() == f"ecert: 找不到文件 {missing}:请检查路径和文件名 [file_not_found]"
    pdf = tmp_path / "cert.pdf"
    pdf.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n\xff\xfe\x00")
    res = run(tmp_path, "--lang", "en", "import", str(pdf), "--json")
    assert res.returncode == 2, res.stderr
    (detail,) = one_json_object(res.stdout)["error"]["details"]
    assert detail["code"] == "import_format_unsupported"
    assert detail["message"] == (
        "cert.pdf is not a CSV or XLSX file (it is a PDF file): export the registry sheet as CSV (UTF-8 or "
        "GB18030) or XLSX and import that"
    )
    assert "Traceback" not in res.stderr


def test_demo_issues_both_formats_and_verifies_the_ofd__contract_cert_issue_format__R_DOC_6(tmp_path: Path) -> None:
    """A fresh working directory, as on a fresh clone: `ecert demo` makes the DEMO SM2 seal too, and the
    OFD of `cert issue --format both` verifies valid with the PDF's serial."""
    demo = one_json_object(run(tmp_path, "demo", "--holders", "40", "--json").stdout)
    no = next(
        n for n in demo["sample_registration_nos"] if run(tmp_path, "cert", "preview", n, "--json").returncode == 0
    )
    res = run(tmp_path, "cert", "issue", no, "--confirm", "--format", "both", "--out", "c.pdf", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    issued = one_json_object(res.stdout)
    assert issued["files"] == {"pdf": "c.pdf", "ofd": "c.ofd"}
    for name in ("c.pdf", "c.ofd"):
        v = run(tmp_path, "verify", name, "--json")
        assert v.returncode == 0, v.stderr
        verdict = one_json_object(v.stdout)
        assert (verdict["status"], verdict["serial"]) == ("valid", issued["serial"]), verdict
    bad = run(tmp_path, "cert", "issue", no, "--confirm", "--format", "xyz", "--out", "c.xyz", "--json")
    assert bad.returncode == 2 and one_json_object(bad.stdout)["error"]["code"] == "bad_input"
