"""A holder signs in with the government service platform (R-ACC-1): the platform's verified
identity is matched to a registration and to the holder account of that registration.

The platform's ID number claim is compared with the registry's ID numbers, never stored: what is
kept is the link (issuer, subject) → user name. A first sign-in links the holder account of the
registration, or creates one (with no usable password) when the registration has none. The
verified-name claim, when the platform sends it, must be the registry's name too. Every sign-in, link
and refusal is an audit event; a refusal changes nothing else.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from ecert.adapters.db.users import User
from ecert.domain.errors import BadInput, EcertError
from ecert.domain.ids.id_number import parse_id_number
from ecert.domain.messages import Localized
from ecert.domain.names import NAME_SEPARATORS
from ecert.services.unit_of_work import AbstractUnitOfWork

ACTOR = "platform"  # who creates an account at a first sign-in, in the audit log
# Not an argon2 hash: no password ever matches it (accounts.check_password says no to it).
UNUSABLE_PASSWORD_PREFIX = "!platform:"


@dataclass(frozen=True)
class PlatformIdentity:
    """What the platform's verified ID token says about the person (adapters/oidc.py)."""

    issuer: str
    subject: str
    id_number: str | None
    name: str | None


class PlatformRefusal(EcertError):
    """The sign-in is refused for the person, not for the token: ``why`` goes to the audit log."""

    def __init__(self, why: str, code: str = "platform_signin_failed", reason: Localized | None = None) -> None:
        self.why = why
        super().__init__(code, params={"reason": reason} if reason else None)


def comparable_name(name: str) -> str:
    """A name as compared with the platform's: NFKC, no spaces, one middle dot for every separator."""
    plain = "".join(unicodedata.normalize("NFKC", name).split())
    return "".join("·" if ch in NAME_SEPARATORS else ch for ch in plain)


def unusable_password() -> str:
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_hex(16)


def platform_username(registration_no: str) -> str:
    """The user name of an account made at a first platform sign-in."""
    return f"platform-{registration_no}"


def sign_in(uow: AbstractUnitOfWork, who: PlatformIdentity, *, now: datetime, client: str) -> User:
    """The holder account ``who`` signs in as, linked (and made) at the first sign-in; or
    :class:`PlatformRefusal` after the refusal is in the audit log."""
    base = {"issuer": who.issuer, "subject": who.subject, "client": client}
    with uow:
        try:
            user, events = _resolve(uow, who, now)
        except PlatformRefusal as refusal:
            uow.rollback()
            payload = {**base, "reason": refusal.why}
            uow.audit.append(at=now, actor=ACTOR, action="auth.platform_refused", subject=None, payload=payload)
            uow.commit()
            raise
        for action, subject, extra in events:
            uow.audit.append(at=now, actor=ACTOR, action=action, subject=subject, payload={**base, **extra})
        uow.audit.append(
            at=now,
            actor=user.username,
            action="auth.login",
            subject=None,
            payload={**base, "via": "platform", "registration_no": user.registration_no},
        )
        uow.commit()
    return user


Event = tuple[str, str, dict[str, str | None]]


def _resolve(uow: AbstractUnitOfWork, who: PlatformIdentity, now: datetime) -> tuple[User, list[Event]]:
    if not who.id_number:
        raise PlatformRefusal(
            "no_id_number", reason=Localized("平台未提供身份证号", "The platform did not send an ID number")
        )
    try:
        id_number = parse_id_number(who.id_number).value
    except BadInput as exc:
        raise PlatformRefusal(
            "bad_id_number", reason=Localized("平台提供的身份证号无效", "The platform's ID number is not valid")
        ) from exc
    reg_no = uow.registry.active_registration_of(id_number, besides="")
    registration = uow.registry.get(reg_no) if reg_no else None
    if reg_no is None or registration is None:
        raise PlatformRefusal("no_registration", code="platform_no_registration")
    if who.name is not None and comparable_name(who.name) != comparable_name(registration.person.name):
        raise PlatformRefusal(
            "name_differs",
            reason=Localized(
                "平台的实名与注册信息中的姓名不一致", "The platform's verified name differs from the registry's"
            ),
        )
    events: list[Event] = []
    linked = uow.identities.username_for(who.issuer, who.subject)
    if linked is not None:
        user = uow.users.get(linked)
        if user is None or user.role != "holder" or user.registration_no != reg_no:
            raise PlatformRefusal(
                "link_differs",
                reason=Localized(
                    "该平台账号已关联的证书账号与您的注册不符,请联系注册管理机关",
                    "The account linked to this platform identity is not your registration's; "
                    "contact the registration authority",
                ),
            )
    else:
        user = uow.users.holder_of(reg_no)
        if user is None:
            username = platform_username(reg_no)
            if uow.users.get(username) is not None:  # a staff account of that name: never taken over
                raise PlatformRefusal(
                    "username_taken",
                    reason=Localized(
                        f"用户名 {username} 已被占用,请联系注册管理机关",
                        f"User name {username} is taken; contact the authority",
                    ),
                )
            user = User(username, "holder", None, reg_no, unusable_password(), False)
            uow.users.add(user, now)
            events.append(("user.add", username, {"role": "holder", "registration_no": reg_no}))
        if uow.identities.subject_of(who.issuer, user.username) is not None:
            raise PlatformRefusal(
                "account_linked_to_another",
                reason=Localized(
                    "该证书账号已关联另一个平台账号,请联系注册管理机关",
                    "This certificate account is linked to another platform identity; "
                    "contact the registration authority",
                ),
            )
        uow.identities.link(who.issuer, who.subject, user.username, now)
        events.append(("auth.platform_link", user.username, {"registration_no": reg_no}))
    if user.disabled:
        raise PlatformRefusal(
            "account_disabled", reason=Localized("该证书账号已停用", "This certificate account is disabled")
        )
    return user, events
