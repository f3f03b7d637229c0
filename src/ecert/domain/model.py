"""The registry's model: people, employers, registrations and their specialties, renewal applications.

Plain frozen dataclasses; the persistence adapter maps rows to these. No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

# The ten specialties of the first-class constructor (注册专业), in the order the ministry lists them.
SPECIALTIES: tuple[str, ...] = (
    "建筑工程", "公路工程", "铁路工程", "民航机场工程", "港口与航道工程",
    "水利水电工程", "市政公用工程", "通信与广电工程", "矿业工程", "机电工程",
)  # fmt: skip


class Gender(StrEnum):
    MALE = "男"
    FEMALE = "女"


class RegistrationStatus(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"  # 注销
    REVOKED = "revoked"  # 撤销
    SUSPENDED = "suspended"


class SpecialtyState(StrEnum):
    """docs/cli.md ``specialty[].state``. Only VALID, LAPSED and CANCELLED are stored; RENEWABLE and
    EXPIRED are derived from the dates (see rules.lapse.specialty_state)."""

    VALID = "valid"
    RENEWABLE = "renewable"
    EXPIRED = "expired"
    LAPSED = "lapsed"
    CANCELLED = "cancelled"


class LapseReason(StrEnum):
    NO_RENEWAL = "no_renewal"  # R-REN-3
    AGE_LIMIT = "age_limit"  # R-LAPSE-1, holder reached 65
    REJECTED = "rejected"  # R-REN-3, renewal rejected after the validity ended


class SupersessionCause(StrEnum):
    """Why a registration's printed data changed and its earlier certificates were superseded
    (R-CHG-1). Stored with each supersession: stable codes, never renamed."""

    EMPLOYER_CHANGE = "employer_change"  # 变更注册: another employer
    EMPLOYER_RENAME = "employer_rename"  # the employer's name changed
    PERSONAL_CHANGE = "personal_change"  # correction of name, gender, birth date or ID number
    SIGNATURE = "signature"  # a new signature image
    RENEWAL = "renewal"  # renewal approved: a new validity end
    REVOCATION = "revocation"  # 撤销
    CANCELLATION = "cancellation"  # 注销
    RESEAL = "reseal"  # the seal key changed: certificates are issued again under the new one
    IMPORT = "import"  # a registry import changed printed data


class ApplicationStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    gender: Gender
    birth_date: date
    id_number: str


@dataclass(frozen=True, slots=True)
class Employer:
    name: str
    uscc: str  # 统一社会信用代码, GB 32100


@dataclass(frozen=True, slots=True)
class SpecialtyRegistration:
    specialty: str
    valid_until: date  # last day on which it is valid (R-DATE-1)
    stored_state: SpecialtyState = SpecialtyState.VALID  # VALID, LAPSED or CANCELLED
    lapse_reason: LapseReason | None = None
    pending_application: bool = False  # a pending renewal holds the lapse (R-REN-3)


@dataclass(frozen=True, slots=True)
class Registration:
    registration_no: str
    province_code: str  # GB/T 2260, from the registration number's first character
    person: Person
    employer: Employer
    status: RegistrationStatus = RegistrationStatus.ACTIVE
    specialties: tuple[SpecialtyRegistration, ...] = ()
    has_signature: bool = False
    ce_hours: int | None = None
    data_version: int = 1  # bumped by every change of printed data (R-CHG-1)

    def specialty(self, name: str) -> SpecialtyRegistration | None:
        return next((s for s in self.specialties if s.specialty == name), None)


@dataclass(frozen=True, slots=True)
class RenewalApplication:
    """A renewal application (延续注册) as a decision needs it: whose, in which province, and its status."""

    id: int
    registration_no: str
    province_code: str
    status: ApplicationStatus


@dataclass(frozen=True, slots=True)
class StatusRecord:
    """A registration's status with what an authority action recorded (R-LAPSE-1)."""

    status: RegistrationStatus
    reason: str | None = None
    basis: str | None = None  # legal basis
    effective: date | None = None


@dataclass(frozen=True, slots=True)
class Supersession:
    """One change of printed data (R-CHG-1): the registration went from ``from_version`` to
    ``to_version`` at ``at``, for ``cause``, by ``actor``; certificates of earlier versions are superseded."""

    registration_no: str
    from_version: int
    to_version: int
    at: datetime
    cause: SupersessionCause
    actor: str


@dataclass(frozen=True, slots=True)
class UsageWindow:
    """使用有效期: both ends inclusive calendar dates (R-USE-2)."""

    usage_from: date
    usage_until: date
    specialties: tuple[SpecialtyRegistration, ...] = field(default=())

    def contains(self, day: date) -> bool:
        return self.usage_from <= day <= self.usage_until
