"""The authority staff's second factor (issue 17, R-ACC-1): TOTP (RFC 6238: SHA-1, 6 digits,
30-second steps, with pyotp) and single-use recovery codes.

- Enrolment: a secret is kept for the staff member (``start_enrolment``, shown as an ``otpauth://``
  QR code) and becomes their factor once they type a current code (``confirm_enrolment``), which
  returns 10 recovery codes to show once; only their SHA-256 is stored.
- Verification (``verify``): a code of the current step or of one step before or after (±30 s of
  clock drift) is accepted, once: the step it matched is recorded, and a code of that step or an
  earlier one is refused as ``second_factor_reused`` (no replay, even within its 30 seconds). Or
  a recovery code, each once.
- Reset (``reset``): an administrator clears a colleague's factor (never their own); the
  colleague's sessions end and their next sign-in enrols again.

Every step is an audit event. TOTP needs the real Unix time (``unix_time``), never the clock of
drills (ECERT_TODAY moves the date); ``now`` is the audit's instant as everywhere else. Throttling
wrong codes is the web tier's (entrypoints/web/routes_second_factor.py)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp

from ecert.adapters.db.second_factor import StaffFactor
from ecert.adapters.db.users import User
from ecert.domain.errors import BadInput, EcertError, NotFound, problem
from ecert.services.unit_of_work import AbstractUnitOfWork

STAFF_ROLES = ("reviewer", "admin")  # services/accounts.py ROLES without the holders
ISSUER = "ecert"
STEP_SECONDS = 30
DRIFT_STEPS = 1  # accept the step before and the step after the current one
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I/1 or O/0 to misread
_RECOVERY_LENGTH = 10  # 50 bits each
_TOTP_CODE = re.compile(r"^\d{6}$")


def is_staff(role: str) -> bool:
    return role in STAFF_ROLES


@dataclass(frozen=True)
class Enrolment:
    secret: str  # Base32, what an authenticator app takes when typed in
    uri: str  # otpauth://totp/…, what its QR code holds


def otpauth_uri(username: str, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def current_step(unix_time: float) -> int:
    return int(unix_time // STEP_SECONDS)


def _normalize(code: str) -> str:
    return re.sub(r"[\s-]", "", code).upper()


def _hash(recovery_code: str) -> str:
    return hashlib.sha256(_normalize(recovery_code).encode()).hexdigest()


def new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def matching_step(secret: str, code: str, unix_time: float) -> int | None:
    """The step within ±DRIFT_STEPS of now whose code is ``code`` (compared in constant time), if any."""
    code = _normalize(code)
    if not _TOTP_CODE.match(code):
        return None
    totp = pyotp.TOTP(secret)
    now = current_step(unix_time)
    found = None
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            found = step if found is None else found
    return found


def _staff_user(uow: AbstractUnitOfWork, username: str) -> User:
    user = uow.users.get(username)
    if user is None or user.disabled:
        raise NotFound("user", username)
    if not is_staff(user.role):
        raise EcertError("forbidden", rule="R-ACC-1")
    return user


def _audit(uow: AbstractUnitOfWork, action: str, username: str, now: datetime, **payload: object) -> None:
    uow.audit.append(at=now, actor=username, action=action, subject=username, payload=payload)


def enrolled(uow: AbstractUnitOfWork, username: str) -> bool:
    with uow:
        state = uow.second_factors.state(username)
    return state is not None and state.enrolled


def start_enrolment(uow: AbstractUnitOfWork, username: str, *, now: datetime) -> Enrolment:
    """The secret of the enrolment under way, made (and audited) on first call. ``forbidden`` once enrolled."""
    with uow:
        _staff_user(uow, username)
        state = uow.second_factors.state(username)
        assert state is not None
        if state.enrolled:
            raise EcertError("forbidden", rule="R-ACC-1")
        secret = state.secret
        if secret is None:
            secret = pyotp.random_base32()  # 160 bits (RFC 4226 recommends at least 128)
            uow.second_factors.begin(username, secret)
            _audit(uow, "auth.second_factor_enrolment_started", username, now)
            uow.commit()
    return Enrolment(secret, otpauth_uri(username, secret))


@dataclass(frozen=True)
class Passed:
    enrolled_at: datetime  # the enrolment passed against (web_sessions.second_factor_enrolled_at)
    method: str  # enrolment | totp | recovery_code
    recovery_codes_left: int | None = None


def confirm_enrolment(
    uow: AbstractUnitOfWork, username: str, code: str, *, unix_time: float, now: datetime, client: str
) -> tuple[Passed, list[str]]:
    """Confirm the enrolment under way with a current code (the factor is then passed too), and
    the recovery codes, to be shown once."""
    with uow:
        _staff_user(uow, username)
        state = uow.second_factors.state(username)
        assert state is not None
        if state.enrolled or state.secret is None:
            raise EcertError("forbidden", rule="R-ACC-1")
        step = matching_step(state.secret, code, unix_time)
        codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
        done = step is not None and uow.second_factors.confirm(
            username, at=now, step=step, code_hashes=[_hash(c) for c in codes]
        )
        enrolled_at = None
        if done:
            _audit(uow, "auth.second_factor_enrolled", username, now, client=client, recovery_codes=len(codes))
            after = uow.second_factors.state(username)
            enrolled_at = after.enrolled_at if after else None  # as stored, which a session compares with
        else:
            _audit(uow, "auth.second_factor_failed", username, now, client=client, reason="invalid", enrolling=True)
        uow.commit()
    if not done or enrolled_at is None:
        raise EcertError("second_factor_invalid", rule="R-ACC-1")
    return Passed(enrolled_at, "enrolment", len(codes)), codes


def verify(
    uow: AbstractUnitOfWork, username: str, code: str, *, unix_time: float, now: datetime, client: str
) -> Passed:
    """A current TOTP code not used before, or an unused recovery code. ``second_factor_invalid`` or
    ``second_factor_reused`` otherwise (each audited); ``forbidden`` if the user is not enrolled."""
    with uow:
        _staff_user(uow, username)
        state = uow.second_factors.state(username)
        assert state is not None
        if not state.enrolled or state.secret is None or state.enrolled_at is None:
            raise EcertError("forbidden", rule="R-ACC-1")
        failure: str | None = None
        passed: Passed | None = None
        normalized = _normalize(code)
        if len(normalized) == _RECOVERY_LENGTH:
            if uow.second_factors.use_recovery_code(username, _hash(normalized), now):
                left = uow.second_factors.recovery_codes_left(username)
                passed = Passed(state.enrolled_at, "recovery_code", left)
                _audit(uow, "auth.recovery_code_used", username, now, client=client, recovery_codes_left=left)
            else:
                failure = "invalid"
        else:
            step = matching_step(state.secret, normalized, unix_time)
            if step is None:
                failure = "invalid"
            elif uow.second_factors.accept_step(username, step):
                passed = Passed(state.enrolled_at, "totp")
                _audit(uow, "auth.second_factor", username, now, client=client, step=step)
            else:
                failure = "reused"
        if failure is not None:
            _audit(uow, "auth.second_factor_failed", username, now, client=client, reason=failure)
        uow.commit()
    if passed is None:
        raise EcertError("second_factor_reused" if failure == "reused" else "second_factor_invalid", rule="R-ACC-1")
    return passed


def reset(uow: AbstractUnitOfWork, username: str, *, actor: str, now: datetime, by: str | None = None) -> bool:
    """Clear ``username``'s second factor and recovery codes and end their sessions; audited. ``by``: the
    administrator's own user name (the web), who may not reset their own factor. Whether one was enrolled."""
    if by is not None and by == username:
        raise EcertError("forbidden", rule="R-ACC-1")
    with uow:
        user = uow.users.get(username)
        if user is None:
            raise NotFound("user", username)
        if not is_staff(user.role):
            raise BadInput(
                [
                    problem(
                        f"{username} 不是审核人员或管理员,没有第二重验证",
                        f"{username} is not a reviewer or administrator and has no second factor",
                        column="username",
                    )
                ]
            )
        state = uow.second_factors.state(username)
        was = state is not None and state.enrolled
        uow.second_factors.reset(username)
        uow.audit.append(
            at=now, actor=actor, action="auth.second_factor_reset", subject=username, payload={"was_enrolled": was}
        )
        uow.commit()
    return was


def staff_factors(uow: AbstractUnitOfWork) -> list[StaffFactor]:
    """Every staff account with its enrolment and recovery codes left (the administrators' staff page)."""
    with uow:
        return uow.second_factors.staff(STAFF_ROLES)


def demo_enrolment(uow: AbstractUnitOfWork, username: str, *, now: datetime, actor: str) -> Enrolment:
    """DEMO accounts only (``ecert demo`` prints it as a QR code): the account's enrolment, made at
    once with a new secret if it has none (no confirming code, no recovery codes; audited). A later
    run keeps it, so an authenticator app set up from an earlier run still works."""
    with uow:
        _staff_user(uow, username)
        state = uow.second_factors.state(username)
        assert state is not None
        if state.enrolled and state.secret is not None:
            return Enrolment(state.secret, otpauth_uri(username, state.secret))
        secret = pyotp.random_base32()
        uow.second_factors.reset(username)
        uow.second_factors.begin(username, secret)
        uow.second_factors.confirm(username, at=now, step=None, code_hashes=[])  # no code used yet
        uow.audit.append(
            at=now, actor=actor, action="auth.second_factor_enrolled", subject=username, payload={"demo": True}
        )
        uow.commit()
    return Enrolment(secret, otpauth_uri(username, secret))
