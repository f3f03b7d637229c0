"""What the registry shows of a holder (docs/cli.md ``holder show``): one registration with its
specialties' states today (R-LAPSE-1), the day of the age limit (R-DATE-2) and the rollout (R-SCOPE-1)."""

from __future__ import annotations

from datetime import date
from typing import Any

from ecert.domain import provinces
from ecert.domain.model import Registration
from ecert.domain.policy import Policy
from ecert.domain.rules.age import age_limit_date
from ecert.domain.rules.lapse import specialty_state
from ecert.domain.rules.scope import in_rollout


def holder_view(reg: Registration, today: date, policy: Policy) -> dict[str, Any]:
    birth = reg.person.birth_date
    return {
        "registration_no": reg.registration_no,
        "name": reg.person.name,
        "province": provinces.abbreviation(reg.province_code),
        "province_code": reg.province_code,
        "status": reg.status.value,
        "age65_date": age_limit_date(birth, policy).isoformat(),
        "in_rollout": in_rollout(reg.province_code, today, policy),
        "specialties": [
            {
                "specialty": s.specialty,
                "valid_until": s.valid_until.isoformat(),
                "state": specialty_state(s, birth, today, policy).value,
            }
            for s in reg.specialties
        ],
        "employer": {"name": reg.employer.name, "uscc": reg.employer.uscc},
        "has_signature": reg.has_signature,
    }
