"""``ecert serve --workers N``: one listening socket per worker process (SO_REUSEPORT), so the kernel
spreads connections over the workers instead of letting one process take a whole burst (issue
"national scale": the QR page's throughput depended on which worker woke first). A worker that dies
is replaced; SIGTERM stops them all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ecert.testing import free_port

ECERT = str(Path(sys.executable).parent / "ecert")

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")


def _children(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            # The command may contain spaces and parentheses: the fields after the last ")" are fixed.
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                kids.append(int(entry))
    return kids


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].split()[0] != "Z"


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if int(f[1].rsplit(":", 1)[1], 16) == port and f[3] == "0A":  # 0A = LISTEN
                inodes.add(f[9])
    return inodes


def _sockets_of(pid: int) -> set[str]:
    found = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return found
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[8:-1])
    return found


def _wait(cond: object, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ECERT_")},
        "ECERT_DATABASE_URL": f"sqlite:///{tmp_path / 'ecert.db'}",
        "ECERT_KEYS_DIR": str(tmp_path / "keys"),
        "ECERT_TODAY": "2021-03-01",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    subprocess.run([ECERT, "demo", "--holders", "3", "--json"], cwd=tmp_path, env=env, capture_output=True, check=True)
    port = free_port()
    proc = subprocess.Popen(
        [ECERT, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield proc, port
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _workers_listening(proc: subprocess.Popen[bytes], port: int) -> dict[int, set[str]]:
    listening = _listening_inodes(port)  # (multiprocessing's resource tracker is a child too: no socket)
    return {kid: held for kid in _children(proc.pid) if (held := _sockets_of(kid) & listening)}


def test_each_worker_listens_on_its_own_socket_and_a_dead_worker_is_replaced(
    served: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, port = served

    def two_listening() -> bool:
        w = _workers_listening(proc, port)
        return len(w) == 2 and all(len(s) == 1 for s in w.values())

    _wait(two_listening, "two workers, each listening")
    workers = _workers_listening(proc, port)
    first, second = (next(iter(s)) for s in workers.values())
    assert first != second, "the workers share one socket: connections would not be spread"
    assert not (_sockets_of(proc.pid) & _listening_inodes(port)), "the supervisor must not take connections"

    base = f"http://127.0.0.1:{port}"
    for _ in range(20):  # fresh connections each time: any socket of the group may take them
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200

    victim = next(iter(workers))
    os.kill(victim, signal.SIGKILL)
    _wait(lambda: victim not in _children(proc.pid) and two_listening(), "the dead worker to be replaced")
    assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200

    kids = _children(proc.pid)
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=20) is not None
    _wait(lambda: not any(_alive(k) for k in kids), "workers to stop")
    assert not _listening_inodes(port)


def test_a_port_already_taken_is_reported_before_any_worker_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ECERT_")},
            "ECERT_DATABASE_URL": f"sqlite:///{tmp_path / 'ecert.db'}",
            "ECERT_KEYS_DIR": str(tmp_path / "keys"),
        }
        out = subprocess.run(
            [ECERT, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert out.returncode != 0
    assert f"127.0.0.1:{port}" in out.stderr and "Traceback" not in out.stderr
