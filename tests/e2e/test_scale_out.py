"""Scale-out: two ``ecert serve`` processes on different ports, one PostgreSQL and one Redis.
A login on one works on the other, a logout on one ends the session on both, and the public
verification rate limit is shared (issue "national scale": the web tier is stateless)."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from ecert.testing import ECERT, pg_schema, serving

PG = os.environ.get("ECERT_TEST_DATABASE_URL")
REDIS = os.environ.get("ECERT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LIMIT = 6


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[list[str], dict[str, str]]]:
    assert PG, "the scale-out test needs PostgreSQL: set ECERT_TEST_DATABASE_URL (scripts/test does)"
    import redis

    redis.Redis.from_url(REDIS).ping()  # Redis runs on the machines (127.0.0.1:6379); fail loudly if not
    with pg_schema(PG) as url, ExitStack() as stack:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ECERT_")},
            "ECERT_DATABASE_URL": url,
            "ECERT_KEYS_DIR": str(tmp_path / "keys"),
            "ECERT_TODAY": "2021-03-01",
            "ECERT_REDIS_URL": REDIS,
            "ECERT_REDIS_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
            "ECERT_VERIFY_RATE": str(LIMIT),
            "NO_PROXY": "127.0.0.1,localhost",
        }
        demo = subprocess.run(
            [ECERT, "demo", "--holders", "30", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True,
            check=True,
        )  # fmt: skip
        accounts = {a["role"]: a for a in json.loads(demo.stdout)["accounts"]}
        bases = [stack.enter_context(serving(env, cwd=tmp_path))[0] for _ in range(2)]
        yield bases, accounts["holder"]


def test_a_login_on_one_process_works_on_the_other(cluster: tuple[list[str], dict[str, str]]) -> None:
    (a, b), holder = cluster
    login = httpx.post(f"{a}/api/v1/session", json={"username": holder["username"], "password": holder["password"]})
    assert login.status_code == 200, login.text
    cookies = dict(login.cookies)
    me = httpx.get(f"{b}/api/v1/me", cookies=cookies)
    assert me.status_code == 200 and me.json()["registration_no"] == holder["registration_no"]
    out = httpx.request(
        "DELETE", f"{b}/api/v1/session", cookies=cookies, headers={"X-CSRF-Token": login.json()["csrf_token"]}
    )
    assert out.status_code == 200
    assert httpx.get(f"{a}/api/v1/me", cookies=cookies).status_code == 401


def test_the_public_rate_limit_is_shared(cluster: tuple[list[str], dict[str, str]]) -> None:
    (a, b), _ = cluster
    for _attempt in range(2):  # a minute boundary inside the test resets the window: try again once
        minute = int(time.time() // 60)
        statuses = [httpx.get(f"{(a, b)[i % 2]}/api/v1/verify/AAAA").status_code for i in range(LIMIT + 2)]
        if int(time.time() // 60) == minute:
            break
    # LIMIT requests spread over both processes are allowed, the next ones are refused by either.
    assert statuses[:LIMIT] == [200] * LIMIT, statuses
    assert statuses[LIMIT:] == [429, 429], statuses
