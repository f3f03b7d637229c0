"""Change registration (变更注册): data printed on the certificate changes, so earlier certificates
are superseded (R-CHG-1) — the registration's data_version is bumped in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update

from ecert.adapters.db.tables import registrations
from ecert.domain import ids
from ecert.domain.errors import BadInput, RuleRefusal, problem
from ecert.domain.model import RegistrationStatus
from ecert.services.registry import get_registration
from ecert.services.unit_of_work import SqlUnitOfWork


def change_employer(
    uow: SqlUnitOfWork, registration_no: str, *, name: str, uscc: str, actor: str, now: datetime
) -> dict[str, Any]:
    employer = name.strip()
    if not employer or len(employer) > 200:
        raise BadInput([problem("聘用企业名称为空或过长", "Employer name is empty or too long", column="name")])
    code = ids.parse_uscc(uscc)
    with uow:
        reg = get_registration(uow, registration_no)
        if reg.status is not RegistrationStatus.ACTIVE:
            raise RuleRefusal("registration_inactive", rule="R-CHG-1", params={"status": reg.status.value})
        before = {"name": reg.employer.name, "uscc": reg.employer.uscc}
        after = {"name": employer, "uscc": code}
        changed = before != after
        version = uow.certificates.data_version(reg.registration_no)
        if changed:
            version += 1
            uow.connection.execute(
                update(registrations)
                .where(registrations.c.registration_no == reg.registration_no)
                .values(employer_name=employer, employer_uscc=code, data_version=version, updated_at=now)
            )
            uow.audit.append(
                at=now,
                actor=actor,
                action="registration.change_employer",
                subject=reg.registration_no,
                payload={"before": before, "after": after, "data_version": version},
            )
        uow.commit()
    return {"registration_no": reg.registration_no, "employer": after, "changed": changed, "data_version": version}
