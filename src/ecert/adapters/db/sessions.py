"""SQL repositories of the web tier: server-side sessions in the database (the web tier stays
stateless: any process serves any user), fixed-window rate limits (the second factor's codes) and
the sign-in's growing delays (:class:`LoginThrottle`, R-ACC-1).

Each call is its own short transaction on the engine (a session lookup is one statement in
autocommit), apart from any unit of work: entrypoints/web uses them around the use cases."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import Engine, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ecert.adapters.db.tables import rate_limits, users, web_sessions
from ecert.adapters.db.users import User, user_of

SESSION_TTL = timedelta(hours=8)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


# Built once: every signed-in request runs it (SQLAlchemy reuses the compiled form).
_SESSION_AND_USER = (
    select(
        web_sessions.c.username,
        web_sessions.c.csrf_token,
        web_sessions.c.expires_at,
        users.c.role,
        users.c.province_code,
        users.c.registration_no,
        users.c.password_hash,
        users.c.disabled,
        web_sessions.c.second_factor_enrolled_at,
        users.c.totp_enrolled_at,
        users.c.employer_uscc,
    )
    .select_from(web_sessions.outerjoin(users, users.c.username == web_sessions.c.username))
    .where(web_sessions.c.token_hash == bindparam("token_hash"))
)


@dataclass(frozen=True)
class Session:
    username: str
    csrf_token: str
    # The account as it stood when the session was looked up (same statement): an authenticated
    # request then costs one database round trip, not two (issue "national scale": downloads/s).
    # None when the account is gone; not compared, so a Session still equals its freshly created self.
    user: User | None = field(default=None, compare=False)
    # Whether this session passed the staff second factor against the user's current enrolment
    # (services/second_factor.py): a reset or a new enrolment ends it.
    second_factor: bool = field(default=False, compare=False)


class SessionStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, username: str, *, second_factor_enrolled_at: datetime | None = None) -> tuple[str, Session]:
        """A new session; ``second_factor_enrolled_at``: the enrolment whose second factor it passed."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(
                insert(web_sessions).values(
                    token_hash=_hash(token),
                    username=username,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=now + SESSION_TTL,
                    second_factor_enrolled_at=second_factor_enrolled_at,
                )
            )
        return token, Session(username, csrf, second_factor=second_factor_enrolled_at is not None)

    def get(self, token: str | None) -> Session | None:
        if not token or len(token) > 100:
            return None
        # One statement, so no transaction around it (autocommit): BEGIN and ROLLBACK were two of
        # the four round trips every signed-in request paid before any work.
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            row = conn.execute(_SESSION_AND_USER, {"token_hash": _hash(token)}).one_or_none()
        if row is None or _aware(row.expires_at) < datetime.now(UTC):
            return None
        user = None
        if row.role is not None:
            user = user_of(row)
        passed = row.second_factor_enrolled_at is not None and row.second_factor_enrolled_at == row.totp_enrolled_at
        return Session(row.username, row.csrf_token, user, passed)

    def delete(self, token: str | None) -> None:
        if token:
            with self.engine.begin() as conn:
                conn.execute(delete(web_sessions).where(web_sessions.c.token_hash == _hash(token)))


class RateLimiter:
    """``hit(key)`` counts one event in the current window and says whether the limit is exceeded."""

    def __init__(self, engine: Engine, *, limit: int, window: timedelta) -> None:
        self.engine, self.limit, self.window = engine, limit, window

    def hit(self, key: str) -> bool:
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            row = conn.execute(select(rate_limits).where(rate_limits.c.key == key).with_for_update()).one_or_none()
            if row is None or _aware(row.window_start) + self.window <= now:
                if row is None:
                    conn.execute(insert(rate_limits).values(key=key, window_start=now, count=1))
                else:
                    conn.execute(update(rate_limits).where(rate_limits.c.key == key).values(window_start=now, count=1))
                return False
            conn.execute(update(rate_limits).where(rate_limits.c.key == key).values(count=rate_limits.c.count + 1))
            return int(row._mapping["count"]) + 1 > self.limit

    def exceeded(self, key: str) -> bool:
        now = datetime.now(UTC)
        with self.engine.connect() as conn:
            row = conn.execute(select(rate_limits).where(rate_limits.c.key == key)).one_or_none()
        return (
            row is not None
            and _aware(row.window_start) + self.window > now
            and int(row._mapping["count"]) >= self.limit
        )

    def reset(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(rate_limits).where(rate_limits.c.key == key))


@dataclass(frozen=True)
class Backoff:
    """Growing delays after failures (the sign-in's throttle, R-ACC-1): the first ``free`` failures
    cost nothing; after that each next attempt waits ``base`` × 2^(failures − free) from the last
    failure, at most ``cap``. A key with no failure for ``forget`` starts again from zero."""

    free: int
    base: timedelta
    cap: timedelta
    forget: timedelta

    def delay(self, failures: int) -> timedelta:
        if failures < self.free:
            return timedelta(0)
        factor: int = 2 ** min(failures - self.free, 30)
        return min(self.cap, self.base * factor)


class FailureStore(Protocol):
    """Where the sign-in's failure counts live: per key, how many and when the last one was."""

    def failures(self, key: str) -> tuple[int, datetime] | None: ...

    def add(self, key: str, now: datetime, forget: timedelta) -> None:
        """One more failure of ``key`` at ``now``; a count whose last failure is ``forget`` old restarts."""

    def clear(self, key: str) -> None: ...


class SqlFailures:
    """The failure counts in the ``rate_limits`` table (``count``; ``window_start`` = the last failure),
    shared by every web process on the database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def failures(self, key: str) -> tuple[int, datetime] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(rate_limits).where(rate_limits.c.key == key)).one_or_none()
        return None if row is None else (int(row._mapping["count"]), _aware(row.window_start))

    def add(self, key: str, now: datetime, forget: timedelta) -> None:
        try:
            self._add(key, now, forget)
        except IntegrityError:  # another process inserted the key's first failure meanwhile
            self._add(key, now, forget)

    def _add(self, key: str, now: datetime, forget: timedelta) -> None:
        with self.engine.begin() as conn:
            row = conn.execute(select(rate_limits).where(rate_limits.c.key == key).with_for_update()).one_or_none()
            if row is None:
                conn.execute(insert(rate_limits).values(key=key, window_start=now, count=1))
                return
            forgotten = _aware(row.window_start) + forget <= now
            count = 1 if forgotten else rate_limits.c.count + 1
            conn.execute(update(rate_limits).where(rate_limits.c.key == key).values(window_start=now, count=count))

    def clear(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(rate_limits).where(rate_limits.c.key == key))


class LoginThrottle:
    """Growing delays per key (a client address, an account, a known device) over a :class:`FailureStore`:
    the database table by default, Redis when configured (adapters/ratelimit.py ``RedisFailures``)."""

    def __init__(self, store: FailureStore, backoff: Backoff) -> None:
        self.store, self.backoff = store, backoff

    def wait(self, key: str, now: datetime) -> timedelta:
        """How long ``key`` must wait before its next attempt (zero: it may try now)."""
        found = self.store.failures(key)
        if found is None:
            return timedelta(0)
        count, last = found
        if last + self.backoff.forget <= now:
            return timedelta(0)
        left: timedelta = last + self.backoff.delay(count) - now
        return max(timedelta(0), left)

    def failed(self, key: str, now: datetime) -> None:
        """One more failure of ``key`` at ``now``."""
        self.store.add(key, now, self.backoff.forget)

    def reset(self, key: str) -> None:
        self.store.clear(key)
