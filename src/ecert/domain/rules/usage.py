"""Downloads and the usage window (R-USE-2, R-USE-4)."""

from __future__ import annotations

from datetime import date, timedelta

from ecert.domain.errors import RuleRefusal
from ecert.domain.model import Registration, RegistrationStatus, SpecialtyRegistration, UsageWindow
from ecert.domain.policy import Policy, SpecialtyCap
from ecert.domain.rules.age import age_limit_date, has_reached_age_limit
from ecert.domain.rules.lapse import is_currently_valid, specialty_state
from ecert.domain.rules.scope import in_rollout


def printable_specialties(reg: Registration, today: date, policy: Policy) -> tuple[SpecialtyRegistration, ...]:
    """R-USE-4: only currently valid specialties are printed; lapsed (and ended) ones are not."""
    birth = reg.person.birth_date
    return tuple(s for s in reg.specialties if is_currently_valid(specialty_state(s, birth, today, policy)))


def download_refusal(reg: Registration, today: date, policy: Policy) -> RuleRefusal | None:
    """R-USE-4: the first refusal that applies, in the order of docs/rules.md, or None."""
    if not in_rollout(reg.province_code, today, policy):
        return RuleRefusal(
            "not_in_rollout", rule="R-SCOPE-1", params={"province": reg.province_code, "today": today.isoformat()}
        )
    if reg.status is not RegistrationStatus.ACTIVE:
        return RuleRefusal("registration_inactive", rule="R-USE-4", params={"status": reg.status.value})
    if has_reached_age_limit(reg.person.birth_date, today, policy):
        return RuleRefusal(
            "age_limit",
            rule="R-USE-4",
            params={"age65_date": age_limit_date(reg.person.birth_date, policy).isoformat()},
        )
    if not printable_specialties(reg, today, policy):
        return RuleRefusal("no_valid_specialty", rule="R-USE-4")
    if not reg.has_signature:
        return RuleRefusal("signature_missing", rule="R-USE-4")
    return None


def usage_window(reg: Registration, today: date, policy: Policy) -> UsageWindow:
    """R-USE-2: [today, min(today + offset, specialty cap, 65th birthday)]. Raises the R-USE-4 refusal."""
    refusal = download_refusal(reg, today, policy)
    if refusal is not None:
        raise refusal
    printed = printable_specialties(reg, today, policy)
    ends = [s.valid_until for s in printed]
    cap = min(ends) if policy.specialty_cap is SpecialtyCap.EARLIEST else max(ends)
    until = min(
        today + timedelta(days=policy.offset_days_for(reg.province_code)),
        cap,
        age_limit_date(reg.person.birth_date, policy),
    )
    return UsageWindow(usage_from=today, usage_until=until, specialties=printed)
