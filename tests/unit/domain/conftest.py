"""Shared fixtures for the domain rule tests: the default policy and registry builders.

Fixtures are session-scoped (they hand out pure, frozen values or pure factories) so that hypothesis
tests can use them without tripping the function-scoped-fixture health check.
"""

from __future__ import annotations

import importlib.resources
import tomllib
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import pytest

from ecert.domain.model import (
    Employer,
    Gender,
    Person,
    Registration,
    RegistrationStatus,
    SpecialtyRegistration,
    SpecialtyState,
)
from ecert.domain.policy import Policy, merge, parse_policy

PolicyFactory = Callable[[Mapping[str, Any]], Policy]
RegFactory = Callable[..., Registration]
SpecFactory = Callable[..., SpecialtyRegistration]


def _default_policy_data() -> dict[str, Any]:
    text = importlib.resources.files("ecert.domain").joinpath("default_policy.toml").read_text("utf-8")
    return tomllib.loads(text)


@pytest.fixture(scope="session")
def default_policy_data() -> dict[str, Any]:
    """The parsed default_policy.toml (a fresh dict; tests must not rely on mutating it)."""
    return _default_policy_data()


@pytest.fixture(scope="session")
def policy() -> Policy:
    return parse_policy(_default_policy_data())


@pytest.fixture(scope="session")
def make_policy() -> PolicyFactory:
    """Default policy with a TOML-shaped override deep-merged on top (only the keys that change)."""

    def _make(override: Mapping[str, Any]) -> Policy:
        return parse_policy(merge(_default_policy_data(), override))

    return _make


def _spec(
    valid_until: date,
    specialty: str = "建筑工程",
    *,
    stored_state: SpecialtyState = SpecialtyState.VALID,
    pending: bool = False,
) -> SpecialtyRegistration:
    return SpecialtyRegistration(
        specialty=specialty, valid_until=valid_until, stored_state=stored_state, pending_application=pending
    )


@pytest.fixture(scope="session")
def make_spec() -> SpecFactory:
    """``make_spec(valid_until, specialty="建筑工程", stored_state=VALID, pending=False)``."""
    return _spec


def _reg(
    *,
    province: str = "11",
    birth: date = date(1980, 5, 10),
    status: RegistrationStatus = RegistrationStatus.ACTIVE,
    specialties: tuple[SpecialtyRegistration, ...] | None = None,
    signature: bool = True,
    ce_hours: int | None = None,
) -> Registration:
    if specialties is None:
        specialties = (_spec(date(2030, 12, 31)),)
    return Registration(
        registration_no="京1112010201200001",
        province_code=province,
        person=Person(name="张三", gender=Gender.MALE, birth_date=birth, id_number="110101198005100015"),
        employer=Employer(name="某建设集团有限公司", uscc="91110000100000000X"),
        status=status,
        specialties=specialties,
        has_signature=signature,
        ce_hours=ce_hours,
    )


@pytest.fixture(scope="session")
def make_reg() -> RegFactory:
    """``make_reg(province="11", birth=1980-05-10, status=ACTIVE, specialties=(one valid to 2030-12-31,),
    signature=True, ce_hours=None)``: a registration that may download unless told otherwise."""
    return _reg
