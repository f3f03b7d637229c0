"""Changes to a registration through the CLI, on SQLite and PostgreSQL: employer change and rename,
personal data correction, revoke and cancel, paper requests (R-CHG-1, R-CHG-2, R-CHG-3, R-LAPSE-1).

Every refusal is checked to change nothing: the registration row and the audit log are compared
before and after."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from ecert.domain.ids import make_id_number
from ecert.domain.model import Gender
from helpers_cli import (  # noqa: F401
    HEADER,
    ID_BAD_CHECK,
    TODAY,
    UNKNOWN_NO,
    USCC_A,
    USCC_B,
    audit_count,
    audit_events_of,
    import_holder,
    issue,
    issued_holder,
    refused,
    row,
    snapshot,
    verify,
)


@pytest.fixture
def demo_no(ecert: Any) -> str:
    """A demo holder in a pilot province with a valid specialty and a signature on 2021-03-01."""
    res = ecert("demo", "--holders", "40", "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout + res.stderr
    for no in res.json()["sample_registration_nos"]:
        if ecert("cert", "preview", no, "--json", today=TODAY).exit_code == 0:
            return str(no)
    raise AssertionError("no demo holder can download on 2021-03-01")


# ------------------------------------------------------------------------------------- change employer


def test_change_employer_supersedes_and_keeps_specialty_validity__R_CHG_3(
    ecert: Any, demo_no: str, engine: Engine, tmp_path: Path
) -> None:
    out = tmp_path / "c.pdf"
    issue(ecert, demo_no, out)
    before = ecert("holder", "show", demo_no, "--json", today=TODAY).json()
    res = ecert(
        "change", "employer", demo_no, "--name", "浙江新成建设有限公司", "--uscc", USCC_B, "--json", today=TODAY
    )
    assert res.exit_code == 0, res.stdout
    assert res.json()["employer"] == {"name": "浙江新成建设有限公司", "uscc": USCC_B}
    v = verify(ecert, out)
    assert v["status"] == "superseded", v
    assert v["current"]["employer"] == {"name": "浙江新成建设有限公司", "uscc": USCC_B}
    after = ecert("holder", "show", demo_no, "--json", today=TODAY).json()
    assert after["specialties"] == before["specialties"]
    (event,) = [e for e in audit_events_of(engine, "registration.change_employer") if e["subject"] == demo_no]
    assert event["payload"]["before"] == before["employer"]
    assert event["payload"]["after"] == {"name": "浙江新成建设有限公司", "uscc": USCC_B}
    # A new download prints the new employer and is valid.
    new = tmp_path / "new.pdf"
    issue(ecert, demo_no, new)
    assert verify(ecert, new)["status"] == "valid"


def test_change_employer_with_a_bad_credit_code_changes_nothing__R_CHG_1(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    no = import_holder(ecert, tmp_path)
    snap = snapshot(engine, no)
    bad = USCC_B[:-1] + ("0" if USCC_B[-1] != "0" else "1")
    res = ecert("change", "employer", no, "--name", "新公司", "--uscc", bad, "--json", today=TODAY)
    refused(res, "bad_input", 2)
    assert snapshot(engine, no) == snap


# ------------------------------------------------------------------------------------- employer rename


def test_rename_of_an_employer_supersedes_the_certificates_of_all_its_holders__R_CHG_1(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    shared = [import_holder(ecert, tmp_path, serial=i, name=n) for i, n in ((1, "张伟"), (2, "李娜"), (3, "王芳"))]
    other = import_holder(ecert, tmp_path, serial=4, name="赵强", employer=("另一家建设有限公司", USCC_B))
    files = {}
    for no in [*shared, other]:
        files[no] = tmp_path / f"{no}.pdf"
        issue(ecert, no, files[no])
    versions = {no: row(engine, no)["data_version"] for no in shared}
    res = ecert(
        "change", "employer-name", "--uscc", USCC_A, "--name", "某某建设控股集团有限公司", "--json", today=TODAY
    )
    assert res.exit_code == 0, res.stdout
    assert res.json() == {"uscc": USCC_A, "name": "某某建设控股集团有限公司", "registrations": 3}
    for no in shared:
        v = verify(ecert, files[no])
        assert v["status"] == "superseded", v
        assert v["current"]["employer"] == {"name": "某某建设控股集团有限公司", "uscc": USCC_A}
        assert row(engine, no)["data_version"] == versions[no] + 1
    assert verify(ecert, files[other])["status"] == "valid"
    # One event for the whole employer, not one per holder.
    (event,) = audit_events_of(engine, "employer.rename")
    assert event["subject"] == USCC_A
    assert event["payload"]["before"] == {"names": ["某某建设集团有限公司"]}
    assert event["payload"]["after"] == {"name": "某某建设控股集团有限公司"}
    assert event["payload"]["registrations"] == 3
    assert sorted(event["payload"]["registration_nos"]) == sorted(shared)


def test_rename_to_the_current_name_changes_nothing__R_CHG_1(ecert: Any, engine: Engine, tmp_path: Path) -> None:
    no = import_holder(ecert, tmp_path)
    snap = snapshot(engine, no)
    res = ecert("change", "employer-name", "--uscc", USCC_A, "--name", "某某建设集团有限公司", "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout
    assert res.json()["registrations"] == 0
    assert snapshot(engine, no) == snap


def test_rename_of_an_unknown_or_malformed_credit_code_is_refused__R_CHG_1(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    no = import_holder(ecert, tmp_path)
    snap = snapshot(engine, no)
    refused(ecert("change", "employer-name", "--uscc", USCC_B, "--name", "X公司", "--json", today=TODAY), "not_found")
    refused(ecert("change", "employer-name", "--uscc", "123", "--name", "X公司", "--json", today=TODAY), "bad_input", 2)
    refused(ecert("change", "employer-name", "--uscc", USCC_A, "--name", " ", "--json", today=TODAY), "bad_input", 2)
    assert snapshot(engine, no) == snap


# ------------------------------------------------------------------------------------- personal data


def test_correction_of_the_name_supersedes_and_flags_rare_characters__R_CHG_3(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    no, out = issued_holder(ecert, tmp_path)
    version = row(engine, no)["data_version"]
    res = ecert("change", "personal", no, "--name", "𠮷伟", "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout
    d = res.json()
    assert d["changed"] is True and d["fields"] == ["name"] and d["person"]["name"] == "𠮷伟"
    r = row(engine, no)
    assert (r["name"], r["name_rare_chars"], r["data_version"]) == ("𠮷伟", "U+20BB7", version + 1)
    v = verify(ecert, out)
    assert v["status"] == "superseded", v
    assert v["current"]["name"] == "𠮷伟"
    (event,) = audit_events_of(engine, "registration.correct_personal")
    assert (event["payload"]["before"], event["payload"]["after"]) == ({"name": "张伟"}, {"name": "𠮷伟"})
    # Back to a basic name: the rare-character flag is cleared.
    assert ecert("change", "personal", no, "--name", "张伟", "--json", today=TODAY).exit_code == 0
    assert row(engine, no)["name_rare_chars"] is None


def test_correction_of_gender_and_id_number_together__R_CHG_1(ecert: Any, engine: Engine, tmp_path: Path) -> None:
    no = import_holder(ecert, tmp_path)
    new_id = make_id_number("330102", date(1980, 5, 17), 7, Gender.FEMALE)
    res = ecert("change", "personal", no, "--gender", "女", "--id-number", new_id, "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout
    assert res.json()["fields"] == ["gender", "id_number"]
    r = row(engine, no)
    assert (r["gender"], r["id_number"]) == ("女", new_id)


def test_correction_of_the_birth_date_with_a_matching_id_number__R_CHG_1(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    no = import_holder(ecert, tmp_path)
    new_id = make_id_number("330102", date(1981, 6, 1), 3, Gender.MALE)
    res = ecert("change", "personal", no, "--birth-date", "1981-06-01", "--id-number", new_id, "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout
    assert row(engine, no)["birth_date"] == date(1981, 6, 1)
    assert ecert("holder", "show", no, "--json", today=TODAY).json()["age65_date"] == "2046-06-01"


@pytest.mark.parametrize(
    ("args", "column"),
    [
        (("--gender", "女"), "id_number"),  # the ID number still says male
        (("--birth-date", "1980-05-18"), "id_number"),  # the ID number still says 1980-05-17
        (("--id-number", ID_BAD_CHECK), "id_number"),  # wrong check digit
        (("--gender", "M"), "gender"),
        (("--birth-date", "2030-01-01"), "birth_date"),
        (("--birth-date", "1980/05/17"), "birth_date"),
        (("--name", "张3"), "name"),
        ((), None),
    ],
)
def test_bad_personal_corrections_are_refused_and_change_nothing__R_CHG_1(
    ecert: Any, engine: Engine, tmp_path: Path, args: tuple[str, ...], column: str | None
) -> None:
    no = import_holder(ecert, tmp_path)
    snap = snapshot(engine, no)
    err = refused(ecert("change", "personal", no, *args, "--json", today=TODAY), "bad_input", 2)
    if column is not None:
        assert column in {d.get("column") for d in err["details"]}, err
    assert snapshot(engine, no) == snap


def test_an_id_number_of_another_active_registration_is_refused__R_CHG_1(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    first = import_holder(ecert, tmp_path, serial=1)
    second = import_holder(ecert, tmp_path, serial=2, name="李娜")
    snap = snapshot(engine, first, second)
    taken = row(engine, second)["id_number"]
    err = refused(ecert("change", "personal", first, "--id-number", taken, "--json", today=TODAY), "bad_input", 2)
    assert second in err["details"][0]["message"]
    assert snapshot(engine, first, second) == snap


# ------------------------------------------------------------------------------------- revoke / cancel


def test_revoke_with_a_past_effective_date_says_revoked_with_the_public_part_only__R_LAPSE_1(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    no, out = issued_holder(ecert, tmp_path)
    reason = "持证人张伟(电话 13800000000)以欺骗手段取得注册"
    basis = "《注册建造师管理规定》第三十条"
    res = ecert("revoke", no, "--reason", reason, "--basis", basis, "--effective", "2021-01-15", "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert res.json() == {
        "registration_no": no, "status": "revoked", "reason": reason, "basis": basis, "effective": "2021-01-15",
    }  # fmt: skip
    r = row(engine, no)
    assert (r["status"], r["status_reason"], r["status_basis"], r["status_effective"]) == (
        "revoked",
        reason,
        basis,
        date(2021, 1, 15),
    )
    for lang in ("zh", "en"):
        v = verify(ecert, out, lang=lang)
        assert v["status"] == "revoked", v
        text = " ".join(v["reasons"])
        assert basis in text and "2021-01-15" in text
        assert "13800000000" not in json.dumps(v, ensure_ascii=False) and "欺骗" not in text
        assert v["current"]["revocation"] == {"status": "revoked", "basis": basis, "effective": "2021-01-15"}
        assert v["current"]["status"] == "revoked"
    # The holder can no longer download (R-USE-4).
    refused(ecert("cert", "preview", no, "--json", today=TODAY), "registration_inactive")
    refused(
        ecert("cert", "issue", no, "--confirm", "--out", str(tmp_path / "x.pdf"), "--json", today=TODAY),
        "registration_inactive",
    )
    assert not (tmp_path / "x.pdf").exists()
    (event,) = audit_events_of(engine, "registration.revoke")
    assert event["payload"]["before"]["status"] == "active"
    assert event["payload"]["after"] == {
        "status": "revoked",
        "reason": reason,
        "basis": basis,
        "effective": "2021-01-15",
    }


def test_cancel_on_lapse_grounds_says_revoked_without_the_reason__R_LAPSE_1(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    no, out = issued_holder(ecert, tmp_path)
    res = ecert("cancel", no, "--reason", "持证人申请注销(本人已退休)", "--effective", TODAY, "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert res.json()["status"] == "cancelled" and res.json()["basis"] is None
    v = verify(ecert, out)
    assert v["status"] == "revoked", v
    assert "注销" in v["reasons"][0] and TODAY in v["reasons"][0] and "退休" not in v["reasons"][0]
    assert v["current"]["revocation"] == {"status": "cancelled", "basis": None, "effective": TODAY}
    v_en = verify(ecert, out, lang="en")
    assert "Cancelled" in v_en["reasons"][0]  # the registration status, as every page names it
    refused(ecert("cert", "preview", no, "--json", today=TODAY), "registration_inactive")
    assert ecert("holder", "show", no, "--json", today=TODAY).json()["status"] == "cancelled"


def test_cancel_with_a_legal_basis_shows_it__R_LAPSE_1(ecert: Any, engine: Engine, tmp_path: Path) -> None:
    no, out = issued_holder(ecert, tmp_path)
    args = ("--reason", "死亡", "--basis", "《注册建造师管理规定》第十七条", "--effective", "2021-02-20")
    assert ecert("cancel", no, *args, "--json", today=TODAY).exit_code == 0
    v = verify(ecert, out)
    assert "第十七条" in v["reasons"][0] and "死亡" not in v["reasons"][0]


@pytest.mark.parametrize("first", ["revoke", "cancel"])
@pytest.mark.parametrize("second", ["revoke", "cancel"])
def test_only_an_active_registration_can_be_revoked_or_cancelled__R_LAPSE_1(
    ecert: Any, engine: Engine, tmp_path: Path, first: str, second: str
) -> None:
    no = import_holder(ecert, tmp_path)
    base = ("--reason", "r", "--basis", "b", "--effective", "2021-02-01")
    assert ecert(first, no, *base, "--json", today=TODAY).exit_code == 0
    snap = snapshot(engine, no)
    err = refused(ecert(second, no, *base, "--json", today=TODAY), "registration_inactive")
    assert err["rule"] == "R-LAPSE-1"
    assert snapshot(engine, no) == snap


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("revoke", ("--reason", "r", "--basis", "b", "--effective", "2021-03-02")),  # after today
        ("revoke", ("--reason", "r", "--basis", "  ", "--effective", "2021-02-01")),  # no legal basis
        ("revoke", ("--reason", " ", "--basis", "b", "--effective", "2021-02-01")),  # no reason
        ("revoke", ("--reason", "r", "--basis", "b", "--effective", "01.02.2021")),
        ("cancel", ("--reason", "", "--effective", "2021-02-01")),
        ("cancel", ("--reason", "r", "--effective", "2021-03-02")),
    ],
)
def test_bad_revocations_are_refused_and_change_nothing__R_LAPSE_1(
    ecert: Any, engine: Engine, tmp_path: Path, command: str, args: tuple[str, ...]
) -> None:
    no = import_holder(ecert, tmp_path)
    snap = snapshot(engine, no)
    refused(ecert(command, no, *args, "--json", today=TODAY), "bad_input", 2)
    assert snapshot(engine, no) == snap


def test_changes_of_an_inactive_registration_are_refused__R_CHG_1(ecert: Any, engine: Engine, tmp_path: Path) -> None:
    no = import_holder(ecert, tmp_path)
    assert ecert("cancel", no, "--reason", "本人申请", "--effective", TODAY, "--json", today=TODAY).exit_code == 0
    snap = snapshot(engine, no)
    for args in (
        ("change", "employer", no, "--name", "新公司", "--uscc", USCC_B),
        ("change", "personal", no, "--name", "李四"),
        ("change", "paper", no, "--kind", "reissue", "--why", "lost"),
    ):
        refused(ecert(*args, "--json", today=TODAY), "registration_inactive")
    assert snapshot(engine, no) == snap


@pytest.mark.parametrize(
    "args",
    [
        ("change", "employer", UNKNOWN_NO, "--name", "新公司", "--uscc", USCC_B),
        ("change", "personal", UNKNOWN_NO, "--name", "李四"),
        ("change", "paper", UNKNOWN_NO, "--kind", "reissue", "--why", "lost"),
        ("revoke", UNKNOWN_NO, "--reason", "r", "--basis", "b", "--effective", TODAY),
        ("cancel", UNKNOWN_NO, "--reason", "r", "--effective", TODAY),
    ],
)
def test_unknown_registration_numbers_are_not_found__R_CHG_1(
    ecert: Any, engine: Engine, tmp_path: Path, args: tuple[str, ...]
) -> None:
    import_holder(ecert, tmp_path)
    count = audit_count(engine)
    refused(ecert(*args, "--json", today=TODAY), "not_found")
    assert audit_count(engine) == count


# ------------------------------------------------------------------------------------- paper


@pytest.mark.parametrize(("kind", "why"), [("reissue", "lost"), ("reissue", "damaged"), ("sticker", "renewal")])
def test_paper_requests_in_a_rollout_region_are_refused__R_CHG_2(
    ecert: Any, engine: Engine, tmp_path: Path, kind: str, why: str
) -> None:
    no = import_holder(ecert, tmp_path, abbr="浙")
    snap = snapshot(engine, no)
    err = refused(
        ecert("change", "paper", no, "--kind", kind, "--why", why, "--json", today=TODAY), "paper_not_reissued"
    )
    assert err["rule"] == "R-CHG-2"
    assert "以电子证书为准" in err["message"]  # R-CHG-3: the e-certificate prevails
    err_en = ecert("change", "paper", no, "--kind", kind, "--why", why, "--json", today=TODAY, lang="en").json()
    assert "e-certificate prevails" in err_en["error"]["message"]
    assert snapshot(engine, no) == snap


def test_paper_requests_outside_rollout_are_accepted_until_the_region_joins__R_CHG_2(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    no = import_holder(ecert, tmp_path, abbr="晋")
    res = ecert("change", "paper", no, "--kind", "sticker", "--why", "employer_change", "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert res.json() == {"registration_no": no, "kind": "sticker", "why": "employer_change", "accepted": True}
    (event,) = audit_events_of(engine, "paper.request")
    assert event["subject"] == no and event["payload"]["kind"] == "sticker"
    assert event["payload"]["why"] == "employer_change"
    # 晋 joins with the nationwide batch on 2021-10-15: from then on, refused.
    ok = ecert("change", "paper", no, "--kind", "reissue", "--why", "lost", "--json", today="2021-10-14")
    assert ok.exit_code == 0, ok.stdout
    snap = snapshot(engine, no)
    err = refused(
        ecert("change", "paper", no, "--kind", "reissue", "--why", "lost", "--json", today="2021-10-15"),
        "paper_not_reissued",
    )
    assert err["rule"] == "R-CHG-2"
    assert snapshot(engine, no) == snap


def test_paper_requests_are_refused_everywhere_once_paper_is_void__R_SCOPE_2(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    no = import_holder(ecert, tmp_path, abbr="晋")
    policy = tmp_path / "pilot-only.toml"
    policy.write_text(
        '[rollout]\nbatches = [{ name = "pilot", from = 2021-02-01, provinces = ["浙"] }]\n'
        "paper_void_from = 2022-01-01\n",
        encoding="utf-8",
    )
    ok = ecert("--policy", str(policy), "change", "paper", no, "--kind", "reissue", "--why", "lost", "--json",
               today="2021-12-31")  # fmt: skip
    assert ok.exit_code == 0, ok.stdout + ok.stderr
    err = refused(
        ecert("--policy", str(policy), "change", "paper", no, "--kind", "reissue", "--why", "lost", "--json",
              today="2022-01-01"),
        "paper_not_reissued",
    )  # fmt: skip
    assert err["rule"] == "R-SCOPE-2"


@pytest.mark.parametrize(("kind", "why"), [("new", "lost"), ("reissue", "stolen")])
def test_paper_request_with_an_unknown_kind_or_ground_is_bad_input__R_CHG_2(
    ecert: Any, engine: Engine, tmp_path: Path, kind: str, why: str
) -> None:
    no = import_holder(ecert, tmp_path, abbr="晋")
    snap = snapshot(engine, no)
    refused(ecert("change", "paper", no, "--kind", kind, "--why", why, "--json", today=TODAY), "bad_input", 2)
    assert snapshot(engine, no) == snap
