"""Running the web service on several processes, each with its own listening socket.

uvicorn's ``--workers`` shares one listening socket between its processes: the kernel wakes
whichever process happens to be waiting, and under a burst of keep-alive connections one process
often takes them all while the others idle (measured: about one run in four or five of
``bench/http.py`` put every connection on one of two workers, 2,400–2,800 req/s instead of 4,000).
With ``SO_REUSEPORT`` each process binds its own socket to the same address and the kernel spreads
new connections over them by a hash of the connection, so both cores get work. Where the platform
has no ``SO_REUSEPORT`` (not Linux/BSD), uvicorn's own supervisor runs instead.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

APP = "ecert.entrypoints.web.app:create_app_from_env"


def reuseport_socket(host: str, port: int, *, listen: bool = True) -> socket.socket:
    """A socket bound with SO_REUSEPORT: other processes may bind the same address, and the kernel
    spreads new connections over the listening ones."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    if listen:
        sock.listen(2048)
    return sock


def uvicorn_options(trusted_proxies: tuple[str, ...]) -> dict[str, Any]:
    """How uvicorn treats forwarded headers: believed only from the configured proxies
    (``ECERT_TRUSTED_PROXIES``), and not at all when none is configured — uvicorn's own default
    believes 127.0.0.1, so anything on the machine (or a proxy that passes the header through)
    could name any client address and escape the per-client limits."""
    if not trusted_proxies:
        return {"log_level": "warning", "proxy_headers": False}
    return {"log_level": "warning", "proxy_headers": True, "forwarded_allow_ips": ",".join(trusted_proxies)}


def _worker(host: str, port: int, trusted_proxies: tuple[str, ...]) -> None:
    import uvicorn

    sock = reuseport_socket(host, port)
    config = uvicorn.Config(APP, factory=True, host=host, port=port, **uvicorn_options(trusted_proxies))
    uvicorn.Server(config).run(sockets=[sock])


def run(host: str, port: int, workers: int, *, trusted_proxies: tuple[str, ...] = ()) -> None:
    """Serve on ``workers`` processes; a worker that dies is replaced, Ctrl-C / SIGTERM stop all."""
    import uvicorn

    if workers <= 1 or not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(APP, factory=True, host=host, port=port, workers=workers, **uvicorn_options(trusted_proxies))
        return
    # Bind (without listening) here first: a port already taken is reported at once, before any
    # worker starts, and nobody else can take it while they start. Not listening, it takes no
    # connections of its own.
    probe = reuseport_socket(host, port, listen=False)
    ctx = multiprocessing.get_context("spawn")
    procs: list[BaseProcess] = []
    stopping = False

    restarts: list[float] = []

    def start() -> BaseProcess:
        p = ctx.Process(target=_worker, args=(host, port, trusted_proxies), daemon=False)
        p.start()
        return p

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        procs = [start() for _ in range(workers)]
        while not stopping:
            time.sleep(0.2)
            for i, p in enumerate(procs):
                if not p.is_alive() and not stopping:
                    now = time.monotonic()
                    restarts[:] = [t for t in restarts if now - t < 10] + [now]
                    if len(restarts) > 2 * workers:
                        # Workers die as fast as they start (bad settings, a broken database URL):
                        # restarting would only loop; stop and let the exit status say so.
                        raise SystemExit(f"ecert serve: workers keep exiting (last exit code {p.exitcode})")
                    procs[i] = start()
    finally:
        probe.close()
        for p in procs:
            if p.pid is not None and p.is_alive():
                os.kill(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for p in procs:
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
        for s, h in previous.items():
            signal.signal(s, h)
