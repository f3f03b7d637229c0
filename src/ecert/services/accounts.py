"""Accounts: add a user (contract ``ecert user add``), check a password, resolve a reviewer (R-REN-6).

An ``employer`` account speaks for one employer, named by its 统一社会信用代码 (``--uscc``): it sees
the roster reports of that employer only (R-ACC-1)."""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ecert.adapters.db.users import User
from ecert.domain import provinces
from ecert.domain.errors import BadInput, EcertError, NotFound, problem
from ecert.domain.ids.uscc import check_uscc
from ecert.services.registry import get_registration
from ecert.services.unit_of_work import AbstractUnitOfWork

ROLES = ("holder", "reviewer", "admin", "employer")
USERNAME = re.compile(r"^[A-Za-z0-9_.@\-\u4e00-\u9fff]{2,64}$")
MIN_PASSWORD = 8
# argon2id with the library's current defaults (RFC 9106 low-memory profile).
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


# A hash of a random password with the current hasher's parameters: what a sign-in for an unknown,
# disabled or password-less account verifies against, so that it costs what a wrong password costs.
_dummy: tuple[PasswordHasher, str] | None = None


def _dummy_hash() -> str:
    global _dummy
    if _dummy is None or _dummy[0] is not _hasher:
        _dummy = (_hasher, _hasher.hash(secrets.token_urlsafe(24)))
    return _dummy[1]


def _verify(stored: str | None, password: str) -> bool:
    """One argon2 verification: against ``stored``, or the dummy hash when there is none to use
    (then False whatever the password)."""
    usable = stored is not None and stored.startswith("$argon2")  # a platform-only account has none
    try:
        return _hasher.verify(stored if stored is not None and usable else _dummy_hash(), password) and usable
    except (VerificationError, InvalidHashError):
        return False


def check_password(user: User, password: str) -> bool:
    return _verify(user.password_hash, password)


def verify_sign_in(user: User | None, password: str) -> bool:
    """Whether ``password`` signs ``user`` in (an existing, enabled account with that password). Exactly
    one password-hash verification whatever the account — unknown, disabled and password-less ones
    verify against a dummy hash of the same parameters — so the time a sign-in takes does not tell
    whether a user name exists (issue 16 §3)."""
    return _verify(None if user is None or user.disabled else user.password_hash, password)


def add_user(
    uow: AbstractUnitOfWork,
    username: str,
    *,
    role: str,
    registration_no: str | None = None,  # a holder's
    province: str | None = None,  # a reviewer's
    employer_uscc: str | None = None,  # an employer's
    password: str,
    actor: str,
    now: datetime,
) -> User:
    probs = []
    if not USERNAME.match(username):
        probs.append(
            problem("用户名应为 2–64 个字母、数字或汉字", "Username: 2-64 letters, digits or CJK", column="name")
        )
    if role not in ROLES:
        probs.append(problem(f"角色应为 {'/'.join(ROLES)}", f"Role must be one of {', '.join(ROLES)}", column="role"))
    if len(password) < MIN_PASSWORD:
        probs.append(
            problem(
                f"密码至少 {MIN_PASSWORD} 位",
                f"Password must have at least {MIN_PASSWORD} characters",
                column="password",
            )
        )
    if role == "holder" and not registration_no:
        probs.append(
            problem(
                "持证人账号需要 --registration-no", "A holder account needs --registration-no", column="registration_no"
            )
        )
    if role == "reviewer" and not province:
        probs.append(problem("审核人员账号需要 --province", "A reviewer account needs --province", column="province"))
    uscc = (employer_uscc or "").strip().upper() or None
    if role == "employer":
        why = (
            check_uscc(uscc, "统一社会信用代码", "Credit code")
            if uscc
            else ("用人单位账号需要 --uscc(统一社会信用代码)", "An employer account needs --uscc (its credit code)")
        )
        if why is not None:
            probs.append(problem(*why, column="uscc"))
    elif uscc:
        probs.append(problem("只有用人单位账号有 --uscc", "Only an employer account takes --uscc", column="uscc"))
    if probs:
        raise BadInput(probs)
    province_code = provinces.normalize_province(province) if province else None
    with uow:
        reg_no = None
        if registration_no:
            reg_no = get_registration(uow, registration_no).registration_no
        if uow.users.get(username) is not None:
            raise BadInput([problem(f"用户名 {username} 已存在", f"Username {username} is taken", column="name")])
        user = User(username, role, province_code, reg_no, hash_password(password), False, uscc)
        uow.users.add(user, now)
        payload = {"role": role, "province_code": province_code, "registration_no": reg_no}
        if uscc:
            payload["employer_uscc"] = uscc
        uow.audit.append(at=now, actor=actor, action="user.add", subject=username, payload=payload)
        uow.commit()
    return user


def reviewer_for(uow: AbstractUnitOfWork, username: str, province_code: str) -> User:
    """R-REN-6: a reviewer acts only within their province; a ministry admin anywhere."""
    user = uow.users.get(username)
    if user is None or user.disabled:
        raise NotFound("user", username)
    if user.role == "admin":
        return user
    if user.role != "reviewer" or user.province_code != province_code:
        raise EcertError("forbidden", rule="R-REN-6")
    return user
