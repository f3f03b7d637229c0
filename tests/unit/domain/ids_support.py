"""What the identifier tests share (tests/unit/domain/test_ids_*.py): published values, alphabets,
the single problem of a refusal."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import strategies as st

from ecert.domain.errors import BadInput
from ecert.domain.provinces import PROVINCE_CODES

DIGITS = "0123456789"
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# Published USCCs: the documented example, 住房和城乡建设部 (inside the type codes of the real
# e-licence identifiers) and the three issuers of those identifiers (tests/unit/domain/test_ids_elicence.py).
REAL_USCCS = (
    "91350100M000100Y43",
    "11100000000013338W",
    "11220000013544541J",
    "11370800MB28559184",
    "11330105002500287C",
)

province_codes = st.sampled_from(sorted(PROVINCE_CODES))


def only_problem(exc: pytest.ExceptionInfo[BadInput]) -> tuple[str, str, str | None]:
    """(zh, en, column) of the single problem carried by a BadInput."""
    assert len(exc.value.problems) == 1
    p = exc.value.problems[0]
    return p.message_zh, p.message_en, p.column


def refusal(check: Callable[..., object], *args: object) -> tuple[str, str, str | None]:
    """(zh, en, column) of the single problem with which ``check`` refuses ``args``."""
    with pytest.raises(BadInput) as exc:
        check(*args)
    return only_problem(exc)


def rejects(parse: Callable[[str], object], value: str) -> bool:
    try:
        parse(value)
    except BadInput:
        return True
    return False
