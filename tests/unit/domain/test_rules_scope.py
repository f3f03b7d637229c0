"""R-SCOPE-1 rollout batches and R-SCOPE-2 end of paper certificates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from ecert.domain.policy import Policy
from ecert.domain.rules.scope import in_rollout, paper_certificates_void

PILOT = ["11", "31", "33", "46"]  # 京 沪 浙 琼
OTHERS = ["12", "14", "32", "44", "52", "65"]  # 津 晋 苏 粤 贵 新


@pytest.mark.parametrize("province", PILOT)
@pytest.mark.parametrize(("today", "covered"), [(date(2021, 1, 31), False), (date(2021, 2, 1), True)])
def test_pilot_provinces_from_2021_02_01__R_SCOPE_1(policy: Policy, province: str, today: date, covered: bool) -> None:
    assert in_rollout(province, today, policy) is covered
    assert in_rollout(province, date(2021, 2, 2), policy)
    assert in_rollout(province, date(2021, 10, 14), policy)
    assert in_rollout(province, date(2030, 1, 1), policy)


@pytest.mark.parametrize("province", OTHERS)
@pytest.mark.parametrize(
    ("today", "covered"),
    [
        (date(2021, 2, 1), False),
        (date(2021, 10, 14), False),
        (date(2021, 10, 15), True),
        (date(2021, 10, 16), True),
    ],
)
def test_other_provinces_nationwide_from_2021_10_15__R_SCOPE_1(
    policy: Policy, province: str, today: date, covered: bool
) -> None:
    assert in_rollout(province, today, policy) is covered


def test_shanxi_refused_on_2021_10_14_allowed_on_2021_10_15__R_SCOPE_1(policy: Policy) -> None:
    assert not in_rollout("14", date(2021, 10, 14), policy)
    assert in_rollout("14", date(2021, 10, 15), policy)


def test_batch_with_until_covers_its_last_day_inclusive__R_SCOPE_1(make_policy: Callable[[Any], Policy]) -> None:
    b = {"name": "trial", "from": date(2021, 3, 1), "until": date(2021, 3, 31), "provinces": ["晋"]}
    p = make_policy({"rollout": {"batches": [b]}})
    assert not in_rollout("14", date(2021, 2, 28), p)
    assert in_rollout("14", date(2021, 3, 1), p)
    assert in_rollout("14", date(2021, 3, 31), p)
    assert not in_rollout("14", date(2021, 4, 1), p)
    assert not in_rollout("11", date(2021, 3, 15), p)


def test_batches_are_policy_data__R_SCOPE_1(make_policy: Callable[[Any], Policy]) -> None:
    p = make_policy({"rollout": {"batches": [{"name": "early", "from": date(2020, 1, 1), "provinces": ["晋"]}]}})
    assert in_rollout("14", date(2020, 1, 1), p)
    assert not in_rollout("11", date(2025, 1, 1), p)


@pytest.mark.parametrize(
    ("today", "void"), [(date(2021, 12, 31), False), (date(2022, 1, 1), True), (date(2022, 1, 2), True)]
)
def test_paper_certificates_void_from_2022_01_01__R_SCOPE_2(policy: Policy, today: date, void: bool) -> None:
    assert paper_certificates_void(today, policy) is void
