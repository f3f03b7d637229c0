"""The mixed cases of a roster (issue 13 item 3), built through the CLI: the CLI and web roster tests share them."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers_cli import USCC_A, USCC_B, import_holder, issue

TODAY = "2021-03-01"


@dataclass
class Cases:
    valid: str
    expired: str
    other: str
    revoked: str
    superseded: str
    pdfs: dict[str, Path]


def build_cases(ecert: Any, tmp_path: Path) -> Cases:
    """Holders of employer A (and one of B) in every state a roster meets, through the CLI."""
    spec = ("建筑工程", "2023-06-30")
    valid = import_holder(ecert, tmp_path, serial=1, specialties=(spec,))
    expired = import_holder(ecert, tmp_path, serial=2, specialties=(spec, ("公路工程", "2021-01-31")))
    other = import_holder(ecert, tmp_path, serial=3, employer=("别家建设有限公司", USCC_B), specialties=(spec,))
    revoked = import_holder(ecert, tmp_path, serial=4, specialties=(spec,))
    superseded = import_holder(ecert, tmp_path, serial=5, specialties=(spec,))
    pdfs = {}
    for name, no in (("valid", valid), ("expired", expired), ("revoked", revoked), ("superseded", superseded)):
        pdfs[name] = tmp_path / f"{name}.pdf"
        issue(ecert, no, pdfs[name], today="2021-02-20")
    res = ecert("revoke", revoked, "--reason", "欺骗", "--basis", "行政许可法第六十九条", "--effective", "2021-02-27",
                "--json", today=TODAY)  # fmt: skip
    assert res.exit_code == 0, res.stdout
    # The employer's name changes: the printed data changed, so the PDF issued before is superseded (R-CHG-1).
    res = ecert("change", "employer", superseded, "--name", "某某建设集团股份有限公司", "--uscc", USCC_A, "--json",
                today=TODAY)  # fmt: skip
    assert res.exit_code == 0, res.stdout
    tampered = bytearray(pdfs["valid"].read_bytes())
    at = tampered.index(b"/EcertContent")
    tampered[at + 40] ^= 1
    pdfs["tampered"] = tmp_path / "tampered.pdf"
    pdfs["tampered"].write_bytes(bytes(tampered))
    return Cases(valid, expired, other, revoked, superseded, pdfs)


def write_roster(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["registration_no", "specialty"])
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path
