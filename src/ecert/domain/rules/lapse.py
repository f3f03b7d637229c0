"""Specialty state and lapse (R-DATE-1, R-REN-3, R-LAPSE-1).

The state is derived from the stored state, the dates and today, so it is right even before the
scheduled sweep has written a lapse; the sweep (services.sweep) persists exactly what
:func:`lapse_due` says, set-based, and tests hold the two to each other.
"""

from __future__ import annotations

from datetime import date, timedelta

from ecert.domain.model import LapseReason, SpecialtyRegistration, SpecialtyState
from ecert.domain.policy import Policy
from ecert.domain.rules.age import age_limit_date


def renewal_window_opens(valid_until: date, policy: Policy) -> date:
    """R-REN-1: first day of the renewal window (end − 30 days); the window closes on ``valid_until``."""
    return valid_until - timedelta(days=policy.renewal_window_days)


def lapse_due(spec: SpecialtyRegistration, birth_date: date, today: date, policy: Policy) -> LapseReason | None:
    """Why a specialty stored as valid has lapsed by ``today``, or None if it has not.

    - holder past the 65th birthday: validity is capped at the birthday itself (R-REN-5), so from the
      day after it nothing is valid any more (R-LAPSE-1);
    - validity ended (from the day after ``valid_until``, R-DATE-1), ``today`` on or after the lapse
      start (2021-07-01), and no pending renewal application holds it (R-REN-3).
    """
    if spec.stored_state is not SpecialtyState.VALID:
        return None
    if today > age_limit_date(birth_date, policy):
        return LapseReason.AGE_LIMIT
    ended = today > spec.valid_until
    if ended and today >= policy.lapse_start and not spec.pending_application:
        return LapseReason.NO_RENEWAL
    return None


def specialty_state(spec: SpecialtyRegistration, birth_date: date, today: date, policy: Policy) -> SpecialtyState:
    """docs/cli.md ``state``: valid, renewable, expired (ended, not yet lapsed), lapsed, cancelled."""
    if spec.stored_state in (SpecialtyState.LAPSED, SpecialtyState.CANCELLED):
        return spec.stored_state
    if lapse_due(spec, birth_date, today, policy) is not None:
        return SpecialtyState.LAPSED
    if today > spec.valid_until:
        return SpecialtyState.EXPIRED
    if today >= renewal_window_opens(spec.valid_until, policy):
        return SpecialtyState.RENEWABLE
    return SpecialtyState.VALID


def is_currently_valid(state: SpecialtyState) -> bool:
    return state in (SpecialtyState.VALID, SpecialtyState.RENEWABLE)
