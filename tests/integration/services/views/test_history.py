"""A holder's history from the audit log: ``ecert holder show REG_NO --history`` (R-ACC-1), on SQLite
and PostgreSQL. Import, issuance, renewal, changes, rename, sweep, revoke and cancel all show up,
oldest first, with actor, time, before and after."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ecert.adapters.synthetic_signature import signature_png
from ecert.domain.ids import make_id_number, make_uscc
from ecert.domain.model import Gender
from ecert.services.views.history import show_holder_with_history
from helpers_cli import HEADER, USCC_A, USCC_B, holder_no, write_csv

# Instants are recorded and shown here: every test runs at each pinned hour (tests/conftest.py).
pytestmark = pytest.mark.wall_clock

CONTRACT_KEYS = {"registration_no", "name", "province", "status", "age65_date", "in_rollout", "specialties"}
ENTRY_KEYS = {"at", "actor", "action", "before", "after", "payload"}


def write_holders(tmp_path: Path, name: str, holders: list[dict[str, Any]]) -> Path:
    rows: list[list[str]] = []
    for h in holders:
        sig = tmp_path / f"sig-{h['serial']}.png"
        sig.write_bytes(signature_png(h["name"], h["serial"]))
        person = [h["no"], h["name"], "男", "1980-05-17", h["id"], h["employer"], h["uscc"]]
        rows += [[*person, specialty, valid_until, sig.name] for specialty, valid_until in h["specialties"]]
    return write_csv(tmp_path / name, rows, HEADER)


def holder(serial: int, *, name: str = "张伟", employer: tuple[str, str] = ("某某建设集团有限公司", USCC_A),
           specialties: tuple[tuple[str, str], ...] = (("建筑工程", "2023-06-30"),)) -> dict[str, Any]:  # fmt: skip
    return {
        "serial": serial,
        "no": holder_no(serial),
        "id": make_id_number("330102", date(1980, 5, 17), serial % 100, Gender.MALE),
        "name": name,
        "employer": employer[0],
        "uscc": employer[1],
        "specialties": specialties,
    }


def ok(ecert: Any, *args: str, today: str, input: str | None = None) -> dict[str, Any]:
    res = ecert(*args, "--json", today=today, input=input)
    assert res.exit_code == 0, (args, res.stdout, res.stderr)
    return res.json()  # type: ignore[no-any-return]


def history(ecert: Any, reg_no: str, today: str) -> list[dict[str, Any]]:
    out = ok(ecert, "holder", "show", reg_no, "--history", today=today)
    assert out.keys() >= CONTRACT_KEYS
    entries: list[dict[str, Any]] = out["history"]
    for e in entries:
        assert e.keys() >= ENTRY_KEYS
    return entries


def test_history_lists_every_state_change_in_order_with_before_and_after__R_ACC_1(
    ecert: Any, engine: Any, tmp_path: Path
) -> None:
    me = holder(1, specialties=(("建筑工程", "2021-03-20"), ("公路工程", "2021-05-31")))
    colleague = holder(2, name="李娜")
    stranger = holder(3, name="王芳", employer=("另一家建设有限公司", USCC_B))
    ok(ecert, "init", today="2021-03-01")
    ok(ecert, "import", str(write_holders(tmp_path, "registry.csv", [me, colleague, stranger])), today="2021-03-01")
    no = me["no"]
    ok(
        ecert,
        "cert",
        "issue",
        no,
        "--confirm",
        "--out",
        str(tmp_path / "c.pdf"),
        "--actor",
        "holder:1",
        today="2021-03-01",
    )
    ok(ecert, "cert", "issue", stranger["no"], "--confirm", "--out", str(tmp_path / "s.pdf"), today="2021-03-01")
    app_id = ok(ecert, "renewal", "apply", no, "--specialty", "建筑工程", "--commit-ce", "--ce-hours", "120",
                today="2021-03-01")["application_id"]  # fmt: skip
    ok(ecert, "user", "add", "rev-zj", "--role", "reviewer", "--province", "浙", "--password-stdin", today="2021-03-01",
       input="correct horse battery\n")  # fmt: skip
    ok(ecert, "renewal", "decide", str(app_id), "--approve", "--reviewer", "rev-zj", today="2021-03-02")
    new_uscc = make_uscc("330100", "987654321")
    ok(ecert, "change", "employer", no, "--name", "浙江新成建设有限公司", "--uscc", new_uscc, "--actor", "admin:wang",
       today="2021-03-03")  # fmt: skip
    ok(ecert, "change", "employer-name", "--uscc", new_uscc, "--name", "浙江新成建设集团有限公司", today="2021-03-04")
    ok(ecert, "change", "employer-name", "--uscc", USCC_B, "--name", "另一家建设集团有限公司", today="2021-03-04")
    ok(ecert, "change", "personal", no, "--name", "张𠮷", today="2021-03-05")
    assert ok(ecert, "sweep", today="2021-07-02")["lapsed"] >= 1
    ok(ecert, "revoke", no, "--reason", "以欺骗手段取得注册", "--basis", "第三十条", "--effective", "2021-07-01",
       today="2021-07-03")  # fmt: skip

    entries = history(ecert, no, "2021-07-03")
    assert [e["action"] for e in entries] == [
        "registry.import",
        "certificate.issue",
        "renewal.apply",
        "renewal.approved",
        "registration.change_employer",
        "employer.rename",
        "registration.correct_personal",
        "registry.sweep",
        "registration.revoke",
    ]
    days = [e["at"][:10] for e in entries]
    assert days == sorted(days)
    assert days == ["2021-03-01"] * 3 + [
        "2021-03-02",
        "2021-03-03",
        "2021-03-04",
        "2021-03-05",
        "2021-07-02",
        "2021-07-03",
    ]
    assert all(e["at"].endswith("+08:00") for e in entries)  # R-DATE-1: China Standard Time
    by_action = {e["action"]: e for e in entries}
    assert by_action["certificate.issue"]["actor"] == "holder:1"
    assert by_action["renewal.approved"]["actor"] == "rev-zj"
    assert by_action["renewal.approved"]["before"] == {"建筑工程": "2021-03-20", "公路工程": "2021-05-31"}
    assert by_action["renewal.approved"]["after"] == {"建筑工程": "2024-03-01"}
    change = by_action["registration.change_employer"]
    assert change["actor"] == "admin:wang"
    assert change["before"] == {"name": "某某建设集团有限公司", "uscc": USCC_A}
    assert change["after"] == {"name": "浙江新成建设有限公司", "uscc": new_uscc}
    rename = by_action["employer.rename"]
    assert rename["subject"] == new_uscc
    assert rename["before"] == {"names": ["浙江新成建设有限公司"]}
    assert rename["after"] == {"name": "浙江新成建设集团有限公司"}
    assert rename["payload"]["registrations"] == 1
    assert by_action["registration.correct_personal"]["before"] == {"name": "张伟"}
    assert by_action["registration.correct_personal"]["after"] == {"name": "张𠮷"}
    sweep = by_action["registry.sweep"]
    assert sweep["before"] == {"公路工程": {"state": "valid"}}
    assert sweep["after"] == {"公路工程": {"state": "lapsed", "lapse_reason": "no_renewal"}}
    revoke = by_action["registration.revoke"]
    assert revoke["before"]["status"] == "active"
    assert revoke["after"] == {"status": "revoked", "reason": "以欺骗手段取得注册", "basis": "第三十条",
                               "effective": "2021-07-01"}  # fmt: skip

    # Other holders' events stay out; the colleague's history has the import but no rename of
    # an employer they do not work for.
    mine = {e["action"] for e in history(ecert, colleague["no"], "2021-07-03")}
    assert mine == {"registry.import"}
    theirs = [e["action"] for e in history(ecert, stranger["no"], "2021-07-03")]
    assert theirs == ["registry.import", "certificate.issue", "employer.rename"]


def test_employer_rename_appears_in_the_history_of_every_holder_of_that_employer__R_ACC_1(
    ecert: Any, engine: Any, tmp_path: Path
) -> None:
    holders = [holder(i, name=n) for i, n in ((1, "张伟"), (2, "李娜"))]
    ok(ecert, "import", str(write_holders(tmp_path, "r.csv", holders)), today="2021-03-01")
    ok(ecert, "change", "employer-name", "--uscc", USCC_A, "--name", "某某建设控股有限公司", today="2021-03-02")
    for h in holders:
        renames = [e for e in history(ecert, h["no"], "2021-03-02") if e["action"] == "employer.rename"]
        assert len(renames) == 1
        assert renames[0]["payload"]["registrations"] == 2


def test_cancel_and_refusals_in_the_history__R_ACC_1(ecert: Any, engine: Any, tmp_path: Path) -> None:
    me = holder(1)
    ok(ecert, "import", str(write_holders(tmp_path, "r.csv", [me])), today="2021-03-01")
    # A refused paper request (浙 is in rollout) changes nothing and is not an event.
    assert (
        ecert("change", "paper", me["no"], "--kind", "reissue", "--why", "lost", "--json", today="2021-03-01").exit_code
        == 1
    )
    ok(ecert, "cancel", me["no"], "--reason", "本人申请", "--effective", "2021-02-28", today="2021-03-01")
    entries = history(ecert, me["no"], "2021-03-01")
    assert [e["action"] for e in entries] == ["registry.import", "registration.cancel"]
    assert entries[1]["after"] == {
        "status": "cancelled",
        "reason": "本人申请",
        "basis": None,
        "effective": "2021-02-28",
    }


def test_a_later_import_that_changed_the_holder_is_in_the_history__R_ACC_1(
    ecert: Any, engine: Any, tmp_path: Path
) -> None:
    me, other = holder(1), holder(2, name="李娜")
    ok(ecert, "import", str(write_holders(tmp_path, "first.csv", [me, other])), today="2021-03-01")
    me2 = {**me, "specialties": (("建筑工程", "2024-06-30"),)}
    ok(ecert, "import", str(write_holders(tmp_path, "second.csv", [me2])), today="2021-03-02")
    entries = history(ecert, me["no"], "2021-03-02")
    assert [(e["action"], e["subject"], e["matched_by"]) for e in entries] == [
        ("registry.import", "first.csv", "created_at"),
        ("registry.import", "second.csv", "updated_at"),
    ]
    assert [e["subject"] for e in history(ecert, other["no"], "2021-03-02")] == ["first.csv"]


def test_history_is_only_added_on_request_and_keeps_the_contract_keys__R_ACC_1(
    ecert: Any, make_app: Any, tmp_path: Path
) -> None:
    me = holder(1)
    ok(ecert, "import", str(write_holders(tmp_path, "r.csv", [me])), today="2021-03-01")
    plain = ok(ecert, "holder", "show", me["no"], today="2021-03-01")
    with_history = ok(ecert, "holder", "show", me["no"], "--history", today="2021-03-01")
    assert "history" not in plain
    assert {k: v for k, v in with_history.items() if k != "history"} == plain
    # The service gives the same entries as the command.
    app = make_app(date(2021, 3, 1))
    assert show_holder_with_history(app.uow(), me["no"], today=date(2021, 3, 1), policy=app.policy) == with_history
    res = ecert("holder", "show", "浙1332010201299999", "--history", "--json", today="2021-03-01")
    assert res.exit_code == 1 and res.json()["error"]["code"] == "not_found"
