"""The web tier's state of the platform sign-in (R-ACC-1), beside the sessions (sessions.py) and,
like them, in short transactions of their own on the engine:

* :class:`PendingLogins`: a sign-in on its way through the platform. Its ``state`` and the browser's
  pre-login cookie are stored as SHA-256 hashes; the nonce and the PKCE verifier as they are (the
  token request needs the verifier; both live minutes). :meth:`PendingLogins.take` deletes the row it
  returns, so a ``state`` serves once, and only in the browser that started the sign-in.
* :class:`PlatformSessions`: the ID token of a session signed in through the platform, kept for the
  end-session request's ``id_token_hint`` and taken back at sign-out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, insert, select

from ecert.adapters.db.tables import platform_logins, platform_sessions

PENDING_TTL = timedelta(minutes=10)


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class PendingLogin:
    nonce: str
    code_verifier: str
    next_path: str | None


class PendingLogins:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def start(self, *, state: str, browser: str, nonce: str, code_verifier: str, next_path: str | None) -> None:
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(delete(platform_logins).where(platform_logins.c.expires_at < now))  # abandoned ones
            conn.execute(
                insert(platform_logins).values(
                    state_hash=_hash(state),
                    browser_hash=_hash(browser),
                    nonce=nonce,
                    code_verifier=code_verifier,
                    next_path=next_path,
                    expires_at=now + PENDING_TTL,
                )
            )

    def take(self, *, state: str, browser: str) -> PendingLogin | None:
        """The sign-in started with ``state`` in this ``browser``, removed (None: unknown, used,
        expired, or started in another browser). Of two callbacks racing with one state, one wins."""
        t = platform_logins
        key = (t.c.state_hash == _hash(state), t.c.browser_hash == _hash(browser))
        with self.engine.begin() as conn:
            row = conn.execute(select(t).where(*key)).one_or_none()
            if row is None or conn.execute(delete(t).where(*key)).rowcount != 1:
                return None
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
        if expires < datetime.now(UTC):
            return None
        return PendingLogin(row.nonce, row.code_verifier, row.next_path)


class PlatformSessions:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def keep(self, session_token: str, id_token: str, expires_at: datetime) -> None:
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(delete(platform_sessions).where(platform_sessions.c.expires_at < now))
            conn.execute(
                insert(platform_sessions).values(
                    token_hash=_hash(session_token), id_token=id_token, expires_at=expires_at.astimezone(UTC)
                )
            )

    def take(self, session_token: str | None) -> str | None:
        """The ID token of the platform session ``session_token`` (None: not one), forgotten now."""
        if not session_token or len(session_token) > 100:
            return None
        t = platform_sessions
        with self.engine.begin() as conn:
            id_token = conn.execute(
                select(t.c.id_token).where(t.c.token_hash == _hash(session_token))
            ).scalar_one_or_none()
            conn.execute(delete(t).where(t.c.token_hash == _hash(session_token)))
        return id_token
