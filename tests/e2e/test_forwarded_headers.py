"""``X-Forwarded-For`` counts only from the reverse proxies named in ``ECERT_TRUSTED_PROXIES`` (issue
"Trust under attack", client address spoofing): the probe rotated the header from 127.0.0.1 and was
never throttled, because uvicorn believes forwarded headers from loopback by default. With no proxy
configured (the default) the connecting address is the client, whatever the header says; with the
proxy configured, the header names the client as a deployment behind it needs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ecert.testing import free_port, wait_ready

ECERT = str(Path(sys.executable).parent / "ecert")
LOGIN_LIMIT = 5  # free failed sign-ins per client address before the delays (routes_session.LOGIN_BACKOFF.free)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("forwarded")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ECERT_")},
        "ECERT_DATABASE_URL": f"sqlite:///{tmp / 'ecert.db'}",
        "ECERT_KEYS_DIR": str(tmp / "keys"),
        "ECERT_TODAY": "2021-03-01",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    subprocess.run([ECERT, "init", "--json"], cwd=tmp, env=env, capture_output=True, check=True)
    return env


def _serve(env: dict[str, str], tmp: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [ECERT, "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc=proc)
        yield base
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _failed_sign_ins_from_rotating_addresses(base: str, tag: str) -> list[int]:
    """Wrong passwords, each for another user name and claiming another client address."""
    codes = []
    with httpx.Client(base_url=base, timeout=10) as c:
        for i in range(LOGIN_LIMIT + 2):
            r = c.post(
                "/api/v1/session",
                json={"username": f"{tag}-nobody-{i}", "password": "wrong"},
                headers={"X-Forwarded-For": f"203.0.113.{i + 1}"},
            )
            codes.append(r.status_code)
    return codes


def test_a_rotated_forwarded_for_does_not_escape_the_per_client_limit_by_default(
    registry: dict[str, str], tmp_path: Path
) -> None:
    for base in _serve(registry, tmp_path):
        codes = _failed_sign_ins_from_rotating_addresses(base, "default")
        # Every attempt counts against 127.0.0.1, the address that connected: the limit holds.
        assert codes[:LOGIN_LIMIT] == [401] * LOGIN_LIMIT
        assert codes[LOGIN_LIMIT:] == [429, 429], codes


def test_a_configured_proxy_passes_the_client_address_on(registry: dict[str, str], tmp_path: Path) -> None:
    env = {**registry, "ECERT_TRUSTED_PROXIES": "127.0.0.1"}
    for base in _serve(env, tmp_path):
        # Behind the configured proxy each request names its own client: no client reaches the limit.
        assert _failed_sign_ins_from_rotating_addresses(base, "proxied") == [401] * (LOGIN_LIMIT + 2)
