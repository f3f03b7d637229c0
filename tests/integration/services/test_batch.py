"""ecert cert batch: many certificates across processes, through the single-issue code path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TODAY = "2021-03-01"


def test_batch_issues_what_single_issue_would_and_refuses_the_rest__R_USE_4(ecert: Any, tmp_path: Path) -> None:
    demo = ecert("demo", "--holders", "30", "--json", today=TODAY).json()
    numbers = demo["sample_registration_nos"]
    allowed = {n for n in numbers if ecert("cert", "preview", n, "--json", today=TODAY).exit_code == 0}
    listing = tmp_path / "nos.txt"
    listing.write_text("\n".join([*numbers, "", "京1119999999999999"]), encoding="utf-8")
    res = ecert(
        "cert", "batch", str(listing), "--out-dir", str(tmp_path / "out"), "--workers", "2", "--json", today=TODAY
    )
    assert res.exit_code == 0, res.stdout
    d = res.json()
    assert d["issued"] == len(allowed)
    assert sum(d["refused"].values()) == len(numbers) - len(allowed) + 1
    assert d["refused"].get("not_found") == 1
    pdfs = sorted((tmp_path / "out").glob("*.pdf"))
    assert {p.name.split("-")[0] for p in pdfs} == allowed
    v = ecert("verify", str(pdfs[0]), "--json", today=TODAY).json()
    assert v["status"] == "valid", v
