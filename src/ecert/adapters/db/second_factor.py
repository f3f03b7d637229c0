"""The authority staff's second factor (issue 17, R-ACC-1): each staff member's TOTP secret, its
enrolment, the last time step accepted (no replay) and the single-use recovery codes, stored as
SHA-256. Inside the unit of work: every change goes with its audit event in one transaction.

The secret is stored encrypted (:class:`SecretBox`, issue 16 §3): someone who reads the database
(a backup, a replica, an SQL injection elsewhere) learns no staff member's codes without the keys
directory too. A secret stored in clear before that (no ``enc1:`` prefix) is still read."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, delete, func, insert, or_, select, update

from ecert.adapters.db.tables import staff_recovery_codes, users, web_sessions
from ecert.domain.errors import EcertError

_PREFIX = "enc1:"


class SecretBox:
    """AES-256-GCM for the TOTP secrets at rest: ``enc1:`` + Base64(12-byte nonce ‖ ciphertext ‖ tag),
    the user name as associated data (a secret copied onto another account's row does not open).
    The key comes from ``key()`` on first use (bootstrap: the keystore's application secret, purpose
    ``totp-at-rest``), so a unit of work that never touches a secret never reads the keys directory."""

    def __init__(self, key: Callable[[], bytes]) -> None:
        self._key = key
        self._aead: AESGCM | None = None

    def _cipher(self) -> AESGCM:
        if self._aead is None:
            self._aead = AESGCM(self._key()[:32])
        return self._aead

    def seal(self, secret: str, username: str) -> str:
        nonce = os.urandom(12)
        sealed = self._cipher().encrypt(nonce, secret.encode("ascii"), username.encode("utf-8"))
        return _PREFIX + base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, stored: str, username: str) -> str:
        if not stored.startswith(_PREFIX):
            return stored  # stored in clear before secrets were encrypted
        raw = base64.b64decode(stored[len(_PREFIX) :])
        try:
            return self._cipher().decrypt(raw[:12], raw[12:], username.encode("utf-8")).decode("ascii")
        except InvalidTag as exc:
            reason = (
                f"the TOTP secret of {username} does not open with this keys directory's application secret"
                " (another or a lost app-secret.key); an administrator resets the user's second factor"
            )
            raise EcertError("bad_keys", params={"reason": reason}) from exc


def _no_box() -> bytes:
    raise EcertError("bad_keys", params={"reason": "no key for the TOTP secrets at rest in this unit of work"})


@dataclass(frozen=True)
class FactorState:
    """A user's second factor as stored: no secret (never enrolled, or reset), a secret not yet
    confirmed (an enrolment under way), or an enrolment (``enrolled_at``)."""

    secret: str | None
    enrolled_at: datetime | None
    last_step: int | None

    @property
    def enrolled(self) -> bool:
        return self.secret is not None and self.enrolled_at is not None


@dataclass(frozen=True)
class StaffFactor:
    """One staff account as the administrators' staff page lists it."""

    username: str
    role: str
    province_code: str | None
    enrolled_at: datetime | None
    recovery_codes_left: int


class SqlSecondFactors:
    def __init__(self, conn: Connection, box: SecretBox | None = None) -> None:
        self.conn = conn
        self.box = box or SecretBox(_no_box)

    def state(self, username: str) -> FactorState | None:
        row = self.conn.execute(
            select(users.c.totp_secret, users.c.totp_enrolled_at, users.c.totp_last_step).where(
                users.c.username == username
            )
        ).one_or_none()
        if row is None:
            return None
        secret = None if row.totp_secret is None else self.box.open(row.totp_secret, username)
        return FactorState(secret, row.totp_enrolled_at, row.totp_last_step)

    def begin(self, username: str, secret: str) -> None:
        """Keep ``secret`` for an enrolment under way (never over a confirmed one)."""
        self.conn.execute(
            update(users)
            .where(users.c.username == username, users.c.totp_enrolled_at.is_(None))
            .values(totp_secret=self.box.seal(secret, username), totp_last_step=None)
        )

    def confirm(self, username: str, *, at: datetime, step: int | None, code_hashes: list[str]) -> bool:
        """The enrolment under way becomes the user's factor, its confirming step already used, with
        new recovery codes (earlier ones go). False if it was confirmed meanwhile."""
        done = self.conn.execute(
            update(users)
            .where(users.c.username == username, users.c.totp_enrolled_at.is_(None), users.c.totp_secret.is_not(None))
            .values(totp_enrolled_at=at, totp_last_step=step)
        ).rowcount
        if done != 1:
            return False
        self.conn.execute(delete(staff_recovery_codes).where(staff_recovery_codes.c.username == username))
        if code_hashes:
            self.conn.execute(
                insert(staff_recovery_codes),
                [{"username": username, "code_hash": h, "created_at": at, "used_at": None} for h in code_hashes],
            )
        return True

    def accept_step(self, username: str, step: int) -> bool:
        """Record ``step`` as the last accepted one if it is later than the last: one statement, so
        two requests racing with the same code cannot both pass. False: a replay."""
        return (
            self.conn.execute(
                update(users)
                .where(
                    users.c.username == username,
                    users.c.totp_enrolled_at.is_not(None),
                    or_(users.c.totp_last_step.is_(None), users.c.totp_last_step < step),
                )
                .values(totp_last_step=step)
            ).rowcount
            == 1
        )

    def use_recovery_code(self, username: str, code_hash: str, at: datetime) -> bool:
        """Spend one unused recovery code; False if there is none with that hash."""
        row = self.conn.execute(
            select(staff_recovery_codes.c.id)
            .where(
                staff_recovery_codes.c.username == username,
                staff_recovery_codes.c.code_hash == code_hash,
                staff_recovery_codes.c.used_at.is_(None),
            )
            .limit(1)
        ).one_or_none()
        if row is None:
            return False
        spent = self.conn.execute(
            update(staff_recovery_codes)
            .where(staff_recovery_codes.c.id == row.id, staff_recovery_codes.c.used_at.is_(None))
            .values(used_at=at)
        ).rowcount
        return spent == 1

    def recovery_codes_left(self, username: str) -> int:
        return int(
            self.conn.execute(
                select(func.count())
                .select_from(staff_recovery_codes)
                .where(staff_recovery_codes.c.username == username, staff_recovery_codes.c.used_at.is_(None))
            ).scalar_one()
        )

    def reset(self, username: str) -> None:
        """Forget the factor and the recovery codes and end the user's sessions: the next sign-in
        enrols again."""
        self.conn.execute(
            update(users)
            .where(users.c.username == username)
            .values(totp_secret=None, totp_enrolled_at=None, totp_last_step=None)
        )
        self.conn.execute(delete(staff_recovery_codes).where(staff_recovery_codes.c.username == username))
        self.conn.execute(delete(web_sessions).where(web_sessions.c.username == username))

    def staff(self, roles: tuple[str, ...]) -> list[StaffFactor]:
        left = (
            select(func.count())
            .select_from(staff_recovery_codes)
            .where(staff_recovery_codes.c.username == users.c.username, staff_recovery_codes.c.used_at.is_(None))
            .scalar_subquery()
        )
        rows = self.conn.execute(
            select(users.c.username, users.c.role, users.c.province_code, users.c.totp_enrolled_at, left.label("left"))
            .where(users.c.role.in_(roles))
            .order_by(users.c.role, users.c.username)
        ).all()
        return [StaffFactor(r.username, r.role, r.province_code, r.totp_enrolled_at, int(r.left)) for r in rows]
