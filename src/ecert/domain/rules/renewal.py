"""Renewal registration, 延续注册 (R-REN-1, R-REN-2, R-REN-3, R-REN-4, R-REN-5)."""

from __future__ import annotations

from datetime import date, timedelta

from ecert.domain.dates import anniversary_after
from ecert.domain.errors import RuleRefusal
from ecert.domain.model import Registration, RegistrationStatus, SpecialtyState
from ecert.domain.policy import Policy
from ecert.domain.rules.age import age_limit_date, has_reached_age_limit
from ecert.domain.rules.lapse import renewal_window_opens, specialty_state


def check_renewal_application(
    reg: Registration,
    specialties: list[str] | tuple[str, ...],
    today: date,
    policy: Policy,
    *,
    committed: bool,
    ce_hours: int | None = None,
) -> None:
    """Raise the refusal that applies to a renewal application filed ``today``, or return.

    Order: registration inactive, age (R-REN-5), per specialty: registered, pending, lapsed
    (R-REN-3), window (R-REN-1, transitional R-REN-2); then commitment and hours (R-REN-4).
    """
    if reg.status is not RegistrationStatus.ACTIVE:
        raise RuleRefusal("registration_inactive", rule="R-REN-1", params={"status": reg.status.value})
    birth = reg.person.birth_date
    if has_reached_age_limit(birth, today, policy):
        raise RuleRefusal("age_limit", rule="R-REN-5", params={"age65_date": age_limit_date(birth, policy).isoformat()})
    if not specialties:
        raise RuleRefusal("specialty_not_registered", rule="R-REN-1", params={"specialty": ""})
    for name in specialties:
        spec = reg.specialty(name)
        if spec is None:
            raise RuleRefusal("specialty_not_registered", rule="R-REN-1", params={"specialty": name})
        if spec.pending_application:
            raise RuleRefusal("application_pending", rule="R-REN-1", params={"specialty": name})
        state = specialty_state(spec, birth, today, policy)
        if state in (SpecialtyState.LAPSED, SpecialtyState.CANCELLED):
            raise RuleRefusal("specialty_lapsed", rule="R-REN-3", params={"specialty": name})
        opens = renewal_window_opens(spec.valid_until, policy)
        if state is SpecialtyState.EXPIRED:
            # R-REN-2: an already expired specialty may still apply up to the transitional deadline.
            if today <= policy.transitional_deadline:
                continue
            raise RuleRefusal(
                "outside_renewal_window",
                rule="R-REN-2",
                params={"specialty": name, "valid_until": spec.valid_until.isoformat(), "opens": opens.isoformat()},
            )
        if today < opens:
            raise RuleRefusal(
                "outside_renewal_window",
                rule="R-REN-1",
                params={"specialty": name, "valid_until": spec.valid_until.isoformat(), "opens": opens.isoformat()},
            )
    if not committed:
        raise RuleRefusal("commitment_required", rule="R-REN-4")
    if ce_hours is not None and ce_hours < policy.ce_hours_required:
        raise RuleRefusal(
            "ce_requirement_not_met", rule="R-REN-4", params={"hours": ce_hours, "required": policy.ce_hours_required}
        )


def renewed_validity_end(approval_date: date, birth_date: date, policy: Policy) -> date:
    """R-REN-5: approval + 3 years − 1 day, or the 65th birthday itself if that comes sooner.

    The validity covers three full years: it ends the day before the third anniversary of the
    approval. For an approval on 29 Feb the anniversary in a common year is 1 March, so the last
    day is 28 Feb (not 27 Feb). Refused on or after the 65th birthday.
    """
    limit = age_limit_date(birth_date, policy)
    if approval_date >= limit:
        raise RuleRefusal("age_limit", rule="R-REN-5", params={"age65_date": limit.isoformat()})
    end = anniversary_after(approval_date, policy.validity_years) - timedelta(days=1)
    return min(end, limit)
