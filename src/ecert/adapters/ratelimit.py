"""Per-client limits on the public verification pages (R-DOC-4: anyone may check, nobody may
enumerate).

With ``ECERT_REDIS_URL`` set, the counters live in Redis — shared by every ``ecert serve`` process
on every machine (fixed one-minute windows, one ``INCR`` + ``EXPIRE`` round trip per request).
Without it, each process keeps its own token buckets (a single-machine default). Either way the
limit is ``ECERT_VERIFY_RATE`` requests a minute per client address (default 120).
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


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
    """Fixed one-minute windows in Redis, shared by all processes. If Redis is unreachable the
    request is allowed (availability of verification over strict limiting) and the error counted."""

    def __init__(self, url: str, per_minute: int, prefix: str = "ecert") -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=0.2, socket_connect_timeout=0.2)
        self.limit = per_minute
        self.prefix = prefix
        self.errors = 0

    def allow(self, client: str) -> bool:
        window = int(time.time() // 60)
        key = f"{self.prefix}:rl:verify:{client}:{window}"
        try:
            pipe = self.client.pipeline()
            pipe.incr(key)
            pipe.expire(key, 120)
            count, _ = pipe.execute()
        except Exception:  # redis.RedisError and socket errors alike
            self.errors += 1
            return True
        return int(count) <= self.limit
