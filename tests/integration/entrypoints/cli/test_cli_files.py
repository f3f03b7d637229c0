"""Files named on the command line (docs/cli.md "Files named on the command line"): a missing file, a
directory, an unreadable file, a file that is not CSV or XLSX, text that is neither UTF-8 nor
GB18030, and an ``--out`` that cannot be written each get a ``bad_input`` (exit 2) whose detail has a
stable ``code`` and a sentence saying what to do — zh-CN by default, English with ``--lang en`` —
never a raw ``[Errno …]`` or codec message, never a traceback, and nothing in the database changes."""

from __future__ import annotations

import codecs
import errno
import zipfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from ecert.adapters.db.tables import audit_events, certificates, registrations, specialty_registrations
from ecert.adapters.files import decode_text, first_undecodable_row, input_problem
from ecert.domain.errors import BadInput
from ecert.domain.ids import make_id_number, make_registration_no, make_uscc
from ecert.domain.messages import CATALOG
from ecert.domain.model import Gender
from helpers_app import IMPORT_COLUMNS, downloadable_demo_no

TODAY = "2021-03-01"
HEADER = ",".join(IMPORT_COLUMNS)
RAW = ("Errno", "codec", "Traceback", "can't decode")


def _rows(n: int) -> list[str]:
    """``n`` valid import rows (浙, one specialty each, each holder born on another day)."""
    uscc = make_uscc("330100", "MA2AB3C4D")
    out = []
    for i in range(1, n + 1):
        reg = make_registration_no("浙", "33", 2010, 2012, i)
        birth = date(1970, 1, 1) + timedelta(days=i)
        idn = make_id_number("330102", birth, i % 100, Gender.MALE)
        out.append(f"{reg},张伟,男,{birth},{idn},浙江华建建设集团有限公司,{uscc},建筑工程,2023-06-30")
    return out


def _state(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (registrations, specialty_registrations, certificates, audit_events)
        )


def _detail(res: Any, exit_code: int = 2) -> dict[str, Any]:
    """The one detail of a bad_input answer printed as exactly one JSON object (docs/cli.md "Global")."""
    assert res.exit_code == exit_code, (res.exit_code, res.stdout, res.stderr)
    body = res.json()["error"]
    assert body["code"] == "bad_input", body
    assert len(body["details"]) == 1, body
    detail: dict[str, Any] = body["details"][0]
    assert not any(r in detail["message"] for r in RAW), detail
    return detail


@pytest.fixture
def registry(ecert: Any, engine: Engine, tmp_path: Path) -> tuple[int, ...]:
    """A registry with three holders; returns the database state to compare with afterwards."""
    good = tmp_path / "good.csv"
    good.write_text("\n".join([HEADER, *_rows(3)]) + "\n", encoding="utf-8")
    assert ecert("import", str(good), "--json", today=TODAY).exit_code == 0
    return _state(engine)


# ------------------------------------------------------------------------------------------- reading


def test_verify_of_a_missing_file_names_it_and_says_what_to_do__contract_verify(
    ecert: Any, engine: Engine, tmp_path: Path, registry: tuple[int, ...]
) -> None:
    missing = tmp_path / "nowhere" / "cert.pdf"
    zh = _detail(ecert("verify", str(missing), "--json", today=TODAY))
    assert zh["code"] == "file_not_found"
    assert str(missing) in zh["message"] and "请检查路径" in zh["message"]
    en = _detail(ecert("--lang", "en", "verify", str(missing), "--json", today=TODAY))
    assert en["message"] == f"File not found: {missing}. Check the path and the file name"
    # For people: the sentence on one line, with its code; no empty field name, no errno.
    human = ecert("verify", str(missing), today=TODAY)
    assert human.exit_code == 2 and human.stdout == ""
    assert human.stderr.strip() == f"ecert: 找不到文件 {missing}:请检查路径和文件名 [file_not_found]"
    assert _state(engine) == registry


@pytest.mark.parametrize(
    "args",
    [
        ("verify", "{dir}"),
        ("import", "{dir}"),
        ("holder", "set-signature", "{reg}", "{dir}"),
        ("cert", "batch", "{dir}", "--out-dir", "{out}"),
    ],
    ids=["verify", "import", "set-signature", "cert-batch"],
)
def test_a_directory_given_as_a_file_is_named_as_such__contract_global(
    ecert: Any, engine: Engine, tmp_path: Path, registry: tuple[int, ...], args: tuple[str, ...]
) -> None:
    folder = tmp_path / "a folder"
    folder.mkdir()
    reg = make_registration_no("浙", "33", 2010, 2012, 1)
    argv = [a.format(dir=folder, reg=reg, out=tmp_path / "out") for a in args]
    d = _detail(ecert(*argv, "--json", today=TODAY))
    assert d["code"] == "file_is_directory"
    assert d["message"] == f"{folder} 是文件夹,不是文件:请给出文件的路径"
    en = _detail(ecert("--lang", "en", *argv, "--json", today=TODAY))
    assert en["message"] == f"{folder} is a directory, not a file: give the path of a file"
    assert _state(engine) == registry


@pytest.mark.parametrize(
    "args",
    [("verify", "{big}"), ("verify", "/dev/zero"), ("holder", "set-signature", "{reg}", "/dev/zero")],
    ids=["verify-6MB", "verify-dev-zero", "set-signature-dev-zero"],
)
def test_a_file_too_large_to_be_what_it_claims_is_refused_before_it_is_read_whole__contract_global(
    ecert: Any, engine: Engine, tmp_path: Path, registry: tuple[int, ...], args: tuple[str, ...]
) -> None:
    """``ecert verify /dev/zero`` once read until memory ran out and died with a traceback: the CLI
    caps what it reads as the web does (a certificate file 5 MB, a signature image 2 MB)."""
    big = tmp_path / "big.pdf"
    big.write_bytes(b"%PDF-1.7\n" + b"0" * (6 * 1024 * 1024))
    reg = make_registration_no("浙", "33", 2010, 2012, 1)
    argv = [a.format(big=big, reg=reg) for a in args]
    d = _detail(ecert(*argv, "--json", today=TODAY))
    assert d["code"] == "file_too_large"
    limit = "2 MB" if "set-signature" in args else "5 MB"
    assert d["message"] == f"文件 {argv[-1]} 超过 {limit}:请检查是否给错了文件"
    en = _detail(ecert("--lang", "en", *argv, "--json", today=TODAY))
    assert en["message"] == f"{argv[-1]} is larger than {limit}: check that this is the right file"
    assert _state(engine) == registry


def test_a_file_without_read_permission_says_so__contract_global(
    ecert: Any, engine: Engine, tmp_path: Path, registry: tuple[int, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked.png"
    locked.write_bytes(b"\x89PNG\r\n\x1a\n")
    real = Path.open

    def open_(self: Path, *args: Any, **kwargs: Any) -> Any:  # tests run as root, which chmod 000 does not stop
        if self == locked:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_)
    reg = make_registration_no("浙", "33", 2010, 2012, 1)
    d = _detail(ecert("--lang", "en", "holder", "set-signature", reg, str(locked), "--json", today=TODAY))
    assert d["code"] == "file_not_readable"
    assert d["message"].startswith(f"No permission to read {locked}: check the file's permissions")
    assert _state(engine) == registry


def test_other_read_errors_give_the_systems_reason_without_the_errno() -> None:
    p = input_problem(Path("/mnt/disk/x.csv"), OSError(errno.EIO, "Input/output error"))
    assert p.code == "file_read_failed"
    assert p.message_en == "Cannot read /mnt/disk/x.csv (Input/output error): check the file and its disk"
    assert "Errno" not in p.message_zh


# ------------------------------------------------------------------------------------------- import formats


def _zip(path: Path, names: list[str]) -> bytes:
    with zipfile.ZipFile(path, "w") as z:
        for n in names:
            z.writestr(n, "<x/>")
    return path.read_bytes()


KINDS: list[tuple[str, Any, str, str]] = [
    # (file name, content or a function of the path, what zh says it is, what en says it is)
    ("cert.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n\xff\xfe\x00", "PDF 文件", "a PDF file"),
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), "Excel 97–2003 工作簿", "Excel 97–2003 workbook"),
    ("cert.ofd", lambda p: _zip(p, ["OFD.xml", "Doc_0/Document.xml"]), "OFD 文件", "an OFD file"),
    ("letter.docx", lambda p: _zip(p, ["[Content_Types].xml", "word/document.xml"]), "Office 文档", "Word"),
    ("photos.zip", lambda p: _zip(p, ["a.csv"]), "ZIP 压缩包", "a ZIP archive"),
    ("unicode.txt", codecs.BOM_UTF16_LE + HEADER.encode("utf-16-le"), "UTF-16", "UTF-16 text"),
    ("photo.csv", b"\x89PNG\r\n\x1a\n" + bytes(64), "图像文件", "an image"),
    ("data.bin", b"registration_no\x00\x01\x02", "二进制文件", "a binary file"),
]


@pytest.mark.parametrize(("name", "content", "zh_kind", "en_kind"), KINDS, ids=[k[0] for k in KINDS])
def test_import_of_a_file_that_is_not_csv_or_xlsx_says_what_it_is_and_what_to_export__contract_import(
    ecert: Any,
    engine: Engine,
    tmp_path: Path,
    registry: tuple[int, ...],
    name: str,
    content: Any,
    zh_kind: str,
    en_kind: str,
) -> None:
    path = tmp_path / name
    if callable(content):
        content(path)
    else:
        path.write_bytes(content)
    zh = _detail(ecert("import", str(path), "--json", today=TODAY))
    assert zh["code"] == "import_format_unsupported"
    assert zh["message"].startswith(f"{name} 不是 CSV 或 XLSX 文件") and zh_kind in zh["message"]
    assert "CSV(UTF-8 或 GB18030 编码)或 XLSX" in zh["message"]
    en = _detail(ecert("--lang", "en", "import", str(path), "--json", today=TODAY))
    assert en["message"].startswith(f"{name} is not a CSV or XLSX file") and en_kind in en["message"]
    assert en["message"].endswith("export the registry sheet as CSV (UTF-8 or GB18030) or XLSX and import that")
    assert _state(engine) == registry


def test_import_of_a_damaged_xlsx_asks_to_save_it_again__contract_import(
    ecert: Any, engine: Engine, tmp_path: Path, registry: tuple[int, ...]
) -> None:
    full = tmp_path / "full.xlsx"
    _zip(full, ["[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml"])
    for name, data in (("cut.xlsx", full.read_bytes()[:40]), ("parts.xlsx", full.read_bytes())):
        path = tmp_path / name
        path.write_bytes(data)
        d = _detail(ecert("--lang", "en", "import", str(path), "--json", today=TODAY))
        assert d["code"] == "import_xlsx_damaged", d
        assert d["message"].startswith(f"{name} looks like an XLSX workbook but cannot be opened")
    assert _state(engine) == registry


def test_import_of_text_neither_utf8_nor_gb18030_names_the_row_and_the_encodings__contract_import(
    ecert: Any, engine: Engine, tmp_path: Path, registry: tuple[int, ...]
) -> None:
    # 600 good rows (well past the reader's 8 KB decoding blocks), then one with bytes no GB18030
    # text has (0x81 0x30 0xFF), then more good rows: the row is named exactly, not the block's.
    rows = _rows(700)
    lines = [HEADER.encode("gb18030"), *(r.encode("gb18030") for r in rows[:600])]
    lines.append(rows[600].encode("gb18030").replace(b"2023-06-30", b"2023-06-\x81\x30\xff"))
    lines += [r.encode("gb18030") for r in rows[601:]]
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"\r\n".join(lines) + b"\r\n")
    zh = _detail(ecert("import", str(path), "--json", today=TODAY))
    assert zh["code"] == "text_encoding_unsupported"
    assert zh["row"] == 602  # header = 1
    assert zh["message"].startswith("mixed.csv 第 602 行既不是 UTF-8 也不是 GB18030 编码的文字")
    en = _detail(ecert("--lang", "en", "import", str(path), "--json", today=TODAY))
    assert en["message"].startswith("Row 602 of mixed.csv is neither UTF-8 nor GB18030 text: save the file as UTF-8")
    # The same on the header row.
    head = tmp_path / "head.csv"
    head.write_bytes(b"registration_no,\x81\x30\xff\n" + rows[0].encode("utf-8") + b"\n")
    assert _detail(ecert("import", str(head), "--json", today=TODAY))["row"] == 1
    assert _state(engine) == registry


def test_first_undecodable_row_is_exact_across_pieces(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b\n" * 50 + "张,三\n".encode("gb18030") + b"x,\x81\x30\xff\n" + b"c,d\n" * 5)
    for chunk in (3, 7, 64, 1 << 20):  # pieces that cut lines and characters anywhere
        assert first_undecodable_row(path, "gb18030", chunk=chunk) == 52


def test_decode_text_takes_utf8_and_gb18030_and_names_the_row_of_anything_else() -> None:
    assert decode_text(Path("a.txt"), "\ufeff浙1\n".encode()) == "浙1\n"
    assert decode_text(Path("a.txt"), "浙1\n晋2\n".encode("gb18030")) == "浙1\n晋2\n"
    for data, row in ((b"ok\nok\n\x00\n", 3), (b"ok\n\x81\x30\xff\n", 2)):
        with pytest.raises(BadInput) as info:
            decode_text(Path("a.txt"), data)
        (p,) = info.value.problems
        assert (p.code, p.row) == ("text_encoding_unsupported", row)


def test_cert_batch_of_a_binary_file_names_its_encoding_and_issues_nothing__contract_global(
    ecert: Any, engine: Engine, tmp_path: Path, registry: tuple[int, ...]
) -> None:
    pdf = tmp_path / "cert.pdf"
    pdf.write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Length 3 >>\nstream\n\x00\x9f\xff\nendstream\n")
    d = _detail(ecert("cert", "batch", str(pdf), "--out-dir", str(tmp_path / "out"), "--json", today=TODAY))
    assert (d["code"], d["row"]) == ("text_encoding_unsupported", 5)
    assert not (tmp_path / "out").exists()
    assert _state(engine) == registry


def test_a_missing_policy_file_is_bad_policy_with_the_sentence__contract_global(
    ecert: Any, engine: Engine, tmp_path: Path, registry: tuple[int, ...]
) -> None:
    missing = tmp_path / "policy.toml"
    res = ecert("--lang", "en", "--policy", str(missing), "sweep", "--json", today=TODAY)
    assert res.exit_code == 1, res.stdout
    err = res.json()["error"]
    assert err["code"] == "bad_policy"
    assert err["message"] == f"Bad policy configuration: File not found: {missing}. Check the path and the file name"
    zh = ecert("--policy", str(missing), "sweep", "--json", today=TODAY).json()["error"]
    assert zh["message"] == f"政策配置有误:找不到文件 {missing}:请检查路径和文件名"
    pdf = tmp_path / "policy.pdf"
    pdf.write_bytes(b"%PDF-1.7\n\xff\xfe")
    res = ecert("--lang", "en", "--policy", str(pdf), "sweep", "--json", today=TODAY)
    assert res.json()["error"]["message"] == f"Bad policy configuration: {pdf} is not a UTF-8 TOML file"
    assert _state(engine) == registry


# ------------------------------------------------------------------------------------------- writing


@pytest.fixture
def demo_no(ecert: Any) -> str:
    """A demo holder who can download on 2021-03-01 (pilot province, valid specialty, signature)."""
    return downloadable_demo_no(ecert, TODAY)


def test_cert_issue_to_an_unwritable_out_records_nothing__contract_cert_issue_R_USE_1(
    ecert: Any, engine: Engine, demo_no: str, tmp_path: Path
) -> None:
    before = _state(engine)
    missing_dir = tmp_path / "no such dir"
    d = _detail(ecert("cert", "issue", demo_no, "--confirm", "--out", str(missing_dir / "c.pdf"), "--json"))
    assert d["code"] == "out_dir_missing"
    assert d["message"] == f"无法写入 {missing_dir / 'c.pdf'}:文件夹 {missing_dir} 不存在,请先创建它或换一个路径"
    # A directory as --out used to be found only after the commit: a certificate recorded, no file.
    d = _detail(ecert("--lang", "en", "cert", "issue", demo_no, "--confirm", "--out", str(tmp_path), "--json"))
    assert d["code"] == "out_is_directory"
    assert d["message"] == f"{tmp_path} is a directory: give the name of the file to write, e.g. {tmp_path / 'out.pdf'}"
    blocker = tmp_path / "a file"
    blocker.write_text("x")
    d = _detail(ecert("cert", "issue", demo_no, "--confirm", "--out", str(blocker / "c.pdf"), "--json"))
    assert d["code"] == "out_not_a_directory"
    assert d["message"] == f"{blocker} 是文件,不是文件夹:请给出一个文件夹,或换一个路径"
    assert _state(engine) == before
    # The same registration issues fine to a writable place: the refusals above were the file's.
    ok = ecert("cert", "issue", demo_no, "--confirm", "--out", str(tmp_path / "c.pdf"), "--json", today=TODAY)
    assert ok.exit_code == 0, ok.stdout + ok.stderr
    assert _state(engine)[2] == before[2] + 1


def test_issue_service_turns_a_failed_write_into_bad_input_before_the_commit__R_USE_1(
    ecert: Any, engine: Engine, make_app: Any, demo_no: str, tmp_path: Path
) -> None:
    from ecert.services import issuance

    a = make_app(date(2021, 3, 1))
    before = _state(engine)
    with pytest.raises(BadInput) as info:
        issuance.issue(
            a.uow(), demo_no, confirm=True, actor="t", today=a.clock.today(), now=a.clock.now(),
            policy=a.policy, docs=a.documents, out=tmp_path / "gone" / "c.pdf",
        )  # fmt: skip
    assert info.value.problems[0].code == "out_dir_missing"
    assert _state(engine) == before


def test_keys_export_root_to_a_directory_is_bad_input_not_a_traceback__contract_keys(
    ecert: Any, demo_no: str, tmp_path: Path
) -> None:
    res = ecert("keys", "export-root", "--out", str(tmp_path))
    assert res.exit_code == 2, res.stdout + res.stderr
    assert res.stderr.strip() == (
        f"ecert: {tmp_path} 是文件夹:请给出要写入的文件名,例如 {tmp_path / 'root.pem'} [out_is_directory]"
    )
    res = ecert("keys", "export-root", "--out", str(tmp_path / "missing" / "root.pem"))
    assert res.exit_code == 2 and "[out_dir_missing]" in res.stderr


def test_jobs_output_paths_are_checked_before_the_job__contract_jobs(
    ecert: Any, engine: Engine, registry: tuple[int, ...], tmp_path: Path
) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("x")
    for args in (("export", "--out", str(tmp_path)), ("reseal", "--out-dir", str(blocker))):
        d = _detail(ecert("jobs", "enqueue", *args, "--json", today=TODAY))
        assert d["code"] in ("out_is_directory", "out_not_a_directory"), d
    assert _state(engine) == registry


def test_every_detail_code_has_both_languages() -> None:
    codes = [c for c in CATALOG if c.startswith(("file_", "out_", "import_", "text_"))]
    assert len(codes) == 13
    for code in codes:
        zh, en = CATALOG[code]
        assert zh and en and zh != en and en[:1].isascii()
