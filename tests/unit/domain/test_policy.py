"""Policy as data: defaults, override merge, validation (bad values → EcertError "bad_policy" naming the key)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pytest

from ecert.domain.errors import EcertError
from ecert.domain.policy import Policy, RolloutBatch, SpecialtyCap, merge, parse_policy
from ecert.domain.rules.scope import in_rollout

PolicyFactory = Callable[[Any], Policy]


def test_default_policy_values(policy: Policy) -> None:
    assert policy.batches == (
        RolloutBatch(name="pilot", starts=date(2021, 2, 1), provinces=frozenset({"11", "31", "33", "46"})),
        RolloutBatch(name="nationwide", starts=date(2021, 10, 15), provinces=None),
    )
    assert policy.paper_void_from == date(2022, 1, 1)
    assert policy.usage_offset_days == 180
    assert policy.specialty_cap is SpecialtyCap.EARLIEST
    assert dict(policy.province_offset_days) == {}
    assert policy.renewal_window_days == 30
    assert policy.transitional_deadline == date(2021, 6, 30)
    assert policy.lapse_start == date(2021, 7, 1)
    assert policy.validity_years == 3
    assert policy.ce_hours_required == 120
    assert policy.age_limit_years == 65


def test_merge_overrides_only_the_given_keys_and_leaves_base_untouched(default_policy_data: dict[str, Any]) -> None:
    before = repr(default_policy_data)
    merged = merge(default_policy_data, {"usage": {"offset_days": 179}, "renewal": {"ce_hours_required": 90}})
    assert repr(default_policy_data) == before
    assert merged["usage"]["offset_days"] == 179
    assert merged["usage"]["specialty_cap"] == "earliest"
    assert merged["renewal"]["ce_hours_required"] == 90
    assert merged["renewal"]["window_days"] == 30
    assert merged["rollout"] == default_policy_data["rollout"]


def test_merge_replaces_lists_whole(default_policy_data: dict[str, Any]) -> None:
    only = [{"name": "all", "from": date(2021, 1, 1), "provinces": "*"}]
    assert merge(default_policy_data, {"rollout": {"batches": only}})["rollout"]["batches"] == only


def test_partial_override_keeps_defaults_for_the_rest(make_policy: PolicyFactory, policy: Policy) -> None:
    p = make_policy({"usage": {"specialty_cap": "latest"}})
    assert p.specialty_cap is SpecialtyCap.LATEST
    assert p.usage_offset_days == policy.usage_offset_days
    assert p.batches == policy.batches
    assert p.lapse_start == policy.lapse_start


@pytest.mark.parametrize("key", ["浙", "33"])
def test_province_offset_by_abbreviation_or_code__R_USE_2(make_policy: PolicyFactory, key: str) -> None:
    p = make_policy({"usage": {"province_offset_days": {key: 179}}})
    assert dict(p.province_offset_days) == {"33": 179}
    assert p.offset_days_for("33") == 179
    assert p.offset_days_for("11") == 180


def test_batch_provinces_accept_codes_and_alias_abbreviations__R_SCOPE_1(make_policy: PolicyFactory) -> None:
    p = make_policy({"rollout": {"batches": [{"name": "b", "from": date(2021, 1, 1), "provinces": ["黔", "14"]}]}})
    assert p.batches[0].provinces == frozenset({"52", "14"})


def test_dates_may_be_iso_strings(make_policy: PolicyFactory) -> None:
    p = make_policy(
        {
            "rollout": {"paper_void_from": "2023-01-01", "batches": [{"from": "2021-02-01", "provinces": "*"}]},
            "renewal": {"transitional_deadline": "2021-05-31", "lapse_start": "2021-06-01"},
        }
    )
    assert p.paper_void_from == date(2023, 1, 1)
    assert p.batches[0].starts == date(2021, 2, 1)
    assert p.batches[0].name == "batch1"
    assert p.transitional_deadline == date(2021, 5, 31)
    assert p.lapse_start == date(2021, 6, 1)


def test_batch_until_is_parsed_as_last_covered_day(make_policy: PolicyFactory) -> None:
    b = {"name": "trial", "from": date(2021, 2, 1), "until": date(2021, 2, 28), "provinces": ["京"]}
    p = make_policy({"rollout": {"batches": [b]}})
    assert p.batches[0].ends == date(2021, 2, 28)


def _batch(**kw: Any) -> dict[str, Any]:
    return {"name": "b", "from": date(2021, 2, 1), "provinces": "*"} | kw


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ({"usage": {"offset_days": 0}}, "usage.offset_days"),
        ({"usage": {"offset_days": "180"}}, "usage.offset_days"),
        ({"usage": {"offset_days": True}}, "usage.offset_days"),
        ({"usage": {"offset_days": 180.0}}, "usage.offset_days"),
        ({"usage": {"specialty_cap": "median"}}, "usage.specialty_cap"),
        ({"usage": {"province_offset_days": {"火": 179}}}, "usage.province_offset_days.火"),
        ({"usage": {"province_offset_days": {"浙": 0}}}, "usage.province_offset_days.浙"),
        ({"usage": {"province_offset_days": [179]}}, "usage.province_offset_days"),
        ({"usage": "180"}, "usage"),
        ({"renewal": {"window_days": -1}}, "renewal.window_days"),
        ({"renewal": {"validity_years": 0}}, "renewal.validity_years"),
        ({"renewal": {"ce_hours_required": -5}}, "renewal.ce_hours_required"),
        ({"renewal": {"transitional_deadline": "2021-13-01"}}, "renewal.transitional_deadline"),
        ({"renewal": {"lapse_start": 20210701}}, "renewal.lapse_start"),
        ({"renewal": {"lapse_start": date(2021, 6, 30)}}, "renewal.lapse_start"),  # not after the deadline
        ({"age": {"limit_years": 17}}, "age.limit_years"),
        ({"rollout": {"paper_void_from": "soon"}}, "rollout.paper_void_from"),
        ({"rollout": {"batches": []}}, "rollout.batches"),
        ({"rollout": {"batches": {"from": date(2021, 2, 1)}}}, "rollout.batches"),
        ({"rollout": {"batches": ["pilot"]}}, "rollout.batches[0]"),
        ({"rollout": {"batches": [_batch(), _batch(provinces=["火"])]}}, "rollout.batches[1].provinces"),
        ({"rollout": {"batches": [_batch(provinces=[])]}}, "rollout.batches[0].provinces"),
        ({"rollout": {"batches": [_batch(provinces="all")]}}, "rollout.batches[0].provinces"),
        ({"rollout": {"batches": [{"name": "b", "provinces": "*"}]}}, "rollout.batches[0].from"),
        ({"rollout": {"batches": [_batch(until=date(2021, 1, 31))]}}, "rollout.batches[0]"),
    ],
)
def test_bad_value_gives_bad_policy_naming_the_key(make_policy: PolicyFactory, override: Any, key: str) -> None:
    with pytest.raises(EcertError) as info:
        make_policy(override)
    err = info.value
    assert err.code == "bad_policy"
    assert key in err.params["reason"]
    assert key in err.message("zh")
    assert key in err.message("en")


@pytest.mark.parametrize("section", ["rollout", "usage", "renewal", "age"])
def test_missing_required_section_is_bad_policy(default_policy_data: dict[str, Any], section: str) -> None:
    data = {k: v for k, v in default_policy_data.items() if k != section}
    with pytest.raises(EcertError) as info:
        parse_policy(data)
    assert info.value.code == "bad_policy"
    assert info.value.params["reason"].startswith(section)


def test_lapse_start_the_day_after_the_deadline_is_accepted__R_REN_3(make_policy: PolicyFactory) -> None:
    p = make_policy({"renewal": {"transitional_deadline": date(2021, 9, 30), "lapse_start": date(2021, 10, 1)}})
    assert (p.transitional_deadline, p.lapse_start) == (date(2021, 9, 30), date(2021, 10, 1))


@pytest.mark.parametrize(
    "override",
    [
        {"rollout": {"batches": [_batch(**{"from": datetime(2021, 2, 1, 0, 0)})]}},
        {"usage": {"specialty_cap": ["earliest"]}},
        {"rollout": {"batches": [_batch(provinces=[["京"]])]}},
    ],
)
def test_wrongly_typed_value_is_bad_policy(make_policy: PolicyFactory, override: Any) -> None:
    with pytest.raises(EcertError) as info:
        p = make_policy(override)
        in_rollout("11", date(2021, 3, 1), p)
    assert info.value.code == "bad_policy"
