"""Formula injection (issue 16 §3, OWASP "CSV injection"): the one rule, domain/spreadsheet.py."""

from __future__ import annotations

import pytest

from ecert.domain.spreadsheet import FORMULA_START, is_formula, neutralise

FORMULAS = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "＝1+1", "＋1", "－1", "＠SUM(A1)"]


@pytest.mark.parametrize("cell", FORMULAS)
def test_a_cell_that_starts_like_a_formula_is_one_and_gets_an_apostrophe(cell: str) -> None:
    assert is_formula(cell)
    assert neutralise(cell) == "'" + cell
    assert not is_formula(neutralise(cell))


@pytest.mark.parametrize("cell", ["浙江华建建设集团有限公司", "a.b@example.cn", "2021-03-01", "", " =1", "1-2", "'=1"])
def test_other_text_is_left_alone(cell: str) -> None:
    assert not is_formula(cell)
    assert neutralise(cell) == cell


def test_the_rule_covers_the_owasp_list_and_the_full_width_forms() -> None:
    assert set(FORMULA_START) == {"=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠"}
