"""The CLI's lines for people use the catalogue's words (issue 10 "First impressions"); ``--json``
keeps the contract's codes. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ecert.domain.messages import term
from helpers_cli import TODAY, import_holder, issue

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]")
NAME, EMPLOYER, SPECIALTY = "张伟", "某某建设集团有限公司", "建筑工程"


def _human(ecert: Any, *args: str, lang: str, input: str | None = None) -> str:
    res = ecert(*args, today=TODAY, lang=lang, input=input)
    assert res.exit_code == 0, res.stdout + res.stderr
    return str(res.stdout)


def _english_only(text: str, *data: str) -> None:
    for value in data:
        text = text.replace(value, " ")
    assert not CJK.search(text), sorted(set(CJK.findall(text)))


def test_holder_show_for_people_names_states_in_the_reader_s_language__issue_10(ecert: Any, tmp_path: Path) -> None:
    no = import_holder(ecert, tmp_path)
    assert ecert("holder", "show", no, "--json", today=TODAY).json()["status"] == "active"  # the code stays
    zh = _human(ecert, "holder", "show", no, lang="zh")
    assert "注册状态: 正常" in zh and f"{SPECIALTY}  有效期至 2023-06-30  有效" in zh and "电子证书启用: 是" in zh
    en = _human(ecert, "holder", "show", no, lang="en")
    assert "Status: Active" in en and f"{SPECIALTY}  valid until 2023-06-30  Valid" in en and "In rollout: Yes" in en
    _english_only(en, no, NAME, EMPLOYER, SPECIALTY, "浙")


def test_revocation_and_its_verdict_use_the_same_words_as_the_pages__issue_10(ecert: Any, tmp_path: Path) -> None:
    no = import_holder(ecert, tmp_path)
    out = tmp_path / "c.pdf"
    issue(ecert, no, out)
    valid_en = _human(ecert, "verify", str(out), lang="en")
    assert valid_en.startswith(f"{term('status.certificate', 'valid', 'en')}: The certificate is valid")
    assert "✓ Seal intact" in valid_en and "✓ Inside the usage window" in valid_en
    args = ("revoke", no, "--reason", "以欺骗手段取得注册", "--basis", "第三十条", "--effective", TODAY)
    assert _human(ecert, *args, lang="en").strip() == f"{no}: Revoked (effective {TODAY})"
    zh = _human(ecert, "verify", str(out), lang="zh")
    assert zh.startswith(f"已撤销: 注册状态:已撤销(依据:第三十条;自 {TODAY} 起生效)"), zh
    assert "✗ 注册信息未变更" in zh
    en = _human(ecert, "verify", str(out), lang="en")
    assert en.startswith(f"Revoked: Registration status: Revoked (legal basis: 第三十条; effective {TODAY})"), en
    _english_only(en, "第三十条")
    assert ecert("verify", str(out), "--json", today=TODAY, lang="en").json()["status"] == "revoked"


def test_accounts_are_created_with_their_role_in_words__issue_10(ecert: Any, tmp_path: Path) -> None:
    import_holder(ecert, tmp_path)
    args = ("user", "add", "rev-zj", "--role", "reviewer", "--province", "浙", "--password-stdin")
    assert _human(ecert, *args, lang="en", input="pw-12345678\n").strip() == "Account created: rev-zj (Reviewer)"
    args = ("user", "add", "adm", "--role", "admin", "--password-stdin")
    assert _human(ecert, *args, lang="zh", input="pw-12345678\n").strip() == "已创建账号: adm (管理员)"
