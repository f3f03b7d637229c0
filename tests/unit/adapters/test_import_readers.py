"""The registry file reader's memory stays flat whatever the file (issue "Trust under attack",
uploads: a 200 MB CSV that is one line took 717 MB to refuse). Lines are read at most
``readers.MAX_LINE`` characters long; a longer one is a problem naming its row."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from ecert.adapters.importing import readers
from ecert.domain.errors import BadInput


def test_a_header_longer_than_a_line_may_be_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "one-line.csv"
    path.write_bytes(b"a" * (readers.MAX_LINE + 10))
    with pytest.raises(BadInput) as info:
        readers.open_table(path)
    [p] = info.value.problems
    assert p.row == 1 and "longer than 1 MB" in p.message_en


def test_a_row_longer_than_a_line_may_be_names_its_row(tmp_path: Path) -> None:
    path = tmp_path / "long-row.csv"
    path.write_bytes(b"registration_no,name\nA,B\n" + b'"' + b"x" * (readers.MAX_LINE + 10) + b'"\n')
    table = readers.open_table(path)
    assert next(table.rows) == (2, ["A", "B"])
    with pytest.raises(readers.RowReadError) as info:
        next(table.rows)
    assert info.value.problem.row == 3 and "longer than 1 MB" in info.value.problem.message_en


def test_a_quoted_field_over_several_lines_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "multi.csv"
    path.write_text('registration_no,name\nA,"two\nlines"\n', encoding="utf-8")
    assert list(readers.open_table(path).rows) == [(2, ["A", "two\nlines"])]


def test_a_100_mb_single_line_file_is_refused_in_flat_memory(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with path.open("wb") as f:
        for _ in range(100):
            f.write(b"9" * (1 << 20))
    script = textwrap.dedent(
        f"""
        import resource
        from pathlib import Path
        from ecert.adapters.importing import readers
        from ecert.domain.errors import BadInput
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            readers.open_table(Path({str(path)!r}))
        except BadInput:
            pass
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
        """
    )
    grown_kb = int(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout)
    assert grown_kb < 32 * 1024, f"reading grew the process by {grown_kb // 1024} MB"


def test_a_zip_whose_file_name_is_not_the_utf8_it_claims_is_a_damaged_workbook(tmp_path: Path) -> None:
    """Found by fuzz/fuzz_import.py (issue 16 §5): zipfile raised UnicodeDecodeError, which escaped the import as a
    crash instead of the damaged-workbook refusal."""
    path = tmp_path / "names.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("xl/é.xml", b"<x/>")  # a non-ASCII name: written as UTF-8, with the UTF-8 flag set
    path.write_bytes(path.read_bytes().replace("é".encode(), b"\xb1\xb1"))  # still flagged, no longer UTF-8
    with pytest.raises(BadInput) as info:
        readers.open_table(path)
    assert [p.code for p in info.value.problems] == ["import_xlsx_damaged"]


def test_a_zip_of_an_unknown_version_is_a_damaged_workbook_and_an_unreadable_roster_archive(tmp_path: Path) -> None:
    """Found by fuzz/fuzz_import.py (issue 16 §5): zipfile's NotImplementedError escaped the import."""
    path = tmp_path / "version.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("xl/workbook.xml", b"<x/>")
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")
    data[central + 6 : central + 8] = (235).to_bytes(2, "little")  # "version needed to extract": 23.5
    path.write_bytes(bytes(data))
    with pytest.raises(BadInput) as info:
        readers.open_table(path)
    assert [p.code for p in info.value.problems] == ["import_xlsx_damaged"]
    assert readers.zip_members(bytes(data), max_entries=10, max_member=1000, max_total=1000) == "not_zip"
