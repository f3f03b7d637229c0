"""Per-client limits on the public verification pages (R-DOC-4: anyone may check, nobody may
enumerate).

With ``ECERT_REDIS_URL`` set, the counters live in Redis — shared by every ``ecert serve`` process
on every machine (fixed one-minute windows, one ``INCR`` + ``EXPIRE`` round trip per request).
Without it, each process keeps its own token buckets (a single-machine default). Either way the
limit is ``ECERT_VERIFY_RATE`` requests a minute per client address (default 120).

The sign-in's failure counts (:class:`RedisFailures`) live in Redis too when it is configured; unlike
the verification limit they never fail open: without Redis they are the database's.

When Redis does not answer, the limits fall back to this process's own buckets (the same limit per
process: verification stays available, and a client is still limited, if less strictly across
processes), the log says so once (a warning, and an info line when Redis answers again), and
``/metrics`` shows ``ecert_rate_limit_fallback`` 1. Redis is tried again every
:data:`RETRY_SECONDS`, not on every request (each try can cost the connection timeout).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ecert.adapters.db.sessions import FailureStore

log = logging.getLogger("ecert.ratelimit")
RETRY_SECONDS = 5.0


class Limiter(Protocol):
    def allow(self, client: str) -> bool: ...


class ClientBuckets:
    """Token buckets per client address, per process; bounded in size."""

    def __init__(self, per_minute: float, max_clients: int = 100_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = per_minute
        self.max_clients = max_clients
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def allow(self, client: str) -> bool:
        now = time.monotonic()
        with self.lock:
            tokens, last = self.buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if len(self.buckets) >= self.max_clients and client not in self.buckets:
                self.buckets.clear()  # a flood of addresses must not grow memory without bound
            if tokens < 1:
                self.buckets[client] = (tokens, now)
                return False
            self.buckets[client] = (tokens - 1, now)
            return True


class RedisWindows:
    """Fixed one-minute windows in Redis, shared by all processes; this process's own buckets while Redis
    is unreachable (see the module's text). ``on_fallback(True|False)`` is told when that starts and ends."""

    def __init__(
        self,
        url: str,
        per_minute: int,
        prefix: str = "ecert",
        *,
        on_fallback: Callable[[bool], None] | None = None,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=0.2, socket_connect_timeout=0.2)
        self.limit = per_minute
        self.prefix = prefix
        self.errors = 0
        self.local = ClientBuckets(per_minute)
        self.on_fallback = on_fallback
        self.retry_seconds = retry_seconds
        self._retry_at: float | None = None  # set while falling back: when to try Redis again
        self._lock = threading.Lock()

    @property
    def falling_back(self) -> bool:
        return self._retry_at is not None

    def allow(self, client: str) -> bool:
        retry_at = self._retry_at
        if retry_at is not None and time.monotonic() < retry_at:
            return self.local.allow(client)
        window = int(time.time() // 60)
        key = f"{self.prefix}:rl:verify:{client}:{window}"
        try:
            pipe = self.client.pipeline()
            pipe.incr(key)
            pipe.expire(key, 120)
            count, _ = pipe.execute()
        except Exception as exc:  # redis.RedisError and socket errors alike
            self._failed(exc)
            return self.local.allow(client)
        if retry_at is not None:
            self._recovered()
        return int(count) <= self.limit

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            self.errors += 1
            started = self._retry_at is None
            self._retry_at = time.monotonic() + self.retry_seconds
        if started:
            log.warning(
                "rate limits: Redis unreachable (%s: %s); limiting per process until it answers",
                type(exc).__name__, exc,
            )  # fmt: skip
            if self.on_fallback is not None:
                self.on_fallback(True)

    def _recovered(self) -> None:
        with self._lock:
            ended = self._retry_at is not None
            self._retry_at = None
        if ended:
            log.info("rate limits: Redis answers again; limits are shared again")
            if self.on_fallback is not None:
                self.on_fallback(False)


class RedisFailures:
    """The sign-in's failure counts (entrypoints/web/routes_session.py) in Redis when ``ECERT_REDIS_URL``
    is set: one hash per key (``count``, ``last`` as Unix seconds) that expires ``forget`` after its
    last failure. Never fail-open: while Redis cannot be reached each call goes to ``fallback`` (the
    database table) instead, counted in ``errors`` and logged, so a Redis outage loosens no throttle
    (counts made during it stay in the table; the two are not merged)."""

    def __init__(self, url: str, prefix: str, fallback: FailureStore) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=0.2, socket_connect_timeout=0.2)
        self.prefix = prefix
        self.fallback = fallback
        self.errors = 0

    def _key(self, key: str) -> str:
        return f"{self.prefix}:login:{key}"

    def _failed_over(self, exc: Exception) -> None:
        self.errors += 1
        log.warning("Redis unreachable for the sign-in throttle, the database counts instead: %s", exc)

    def failures(self, key: str) -> tuple[int, datetime] | None:
        try:
            count, last = self.client.hmget(self._key(key), "count", "last")
        except Exception as exc:  # redis.RedisError and socket errors alike
            self._failed_over(exc)
            return self.fallback.failures(key)
        if count is None or last is None:
            return None
        return int(count), datetime.fromtimestamp(float(last), UTC)

    def add(self, key: str, now: datetime, forget: timedelta) -> None:
        k = self._key(key)
        try:
            pipe = self.client.pipeline()  # MULTI/EXEC: the three together
            pipe.hincrby(k, "count", 1)
            pipe.hset(k, "last", repr(now.timestamp()))
            pipe.expire(k, max(1, int(forget.total_seconds())))
            pipe.execute()
        except Exception as exc:
            self._failed_over(exc)
            self.fallback.add(key, now, forget)

    def clear(self, key: str) -> None:
        try:
            self.client.delete(self._key(key))
        except Exception as exc:
            self._failed_over(exc)
        self.fallback.clear(key)  # and any count made while Redis was away
