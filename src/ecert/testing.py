"""Helpers for ecert's own tests, benchmarks and drills: a free local port, a throw-away PostgreSQL
schema, an ``ecert serve`` process that is up before it is used and stopped, with its workers,
afterwards, and certificates issued and verified through the services as the pages do. Shipped with
the package (no test-framework imports) so that ``tests/`` and ``bench/`` share one copy."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from ecert.bootstrap import App
    from ecert.domain.verification import VerificationResult
    from ecert.services.issuance import IssuedCertificate

ECERT = str(Path(sys.executable).parent / "ecert")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def schema_url(base: str, schema: str) -> str:
    """``base`` (a PostgreSQL URL) with every connection's search_path set to ``schema``."""
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={quote(f'-csearch_path={schema}')}"


@contextmanager
def pg_schema(base: str, prefix: str = "t") -> Iterator[str]:
    """A fresh, empty schema on the PostgreSQL server at ``base``, dropped afterwards; yields the URL
    whose connections use it (tests and benches running at once never see each other's tables)."""
    from sqlalchemy import create_engine, text

    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield schema_url(base, schema)
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


def wait_ready(base: str, timeout: float = 30, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until ``base``/readyz answers 200; fail early if ``proc`` (the server) has exited."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"ecert serve exited with {proc.returncode} before it was ready")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{base} was not ready within {timeout:.0f} s")


def stop(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """SIGTERM the process group (the server and its workers), SIGKILL if it lingers."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)


@contextmanager
def serving(
    env: Mapping[str, str],
    *,
    cwd: Path | None = None,
    workers: int = 1,
    port: int | None = None,
    timeout: float = 30,
    stderr: int | None = subprocess.DEVNULL,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``ecert serve`` on 127.0.0.1 (in its own process group), ready before the body runs; yields
    the base URL and the process, and stops it (with its workers) afterwards."""
    port = port or free_port()
    cmd = [ECERT, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=dict(env), stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, timeout, proc)
        yield base, proc
    finally:
        stop(proc)


def issued_sample(app: App, sample: int, *, actor: str) -> Iterator[tuple[str, IssuedCertificate]]:
    """(registration number, certificate) for each of ``sample`` registrations of the registry that can
    download on the app's date, issued and confirmed by ``actor``; the others are passed over (R-USE-4)."""
    from ecert.domain.errors import EcertError
    from ecert.services import issuance

    with app.uow() as uow:
        numbers = uow.registry.sample_numbers(sample)
    for no in numbers:
        try:
            cert = issuance.issue(
                app.uow(), no, confirm=True, actor=actor, today=app.clock.today(), now=app.clock.now(),
                policy=app.policy, docs=app.documents,
            )  # fmt: skip
        except EcertError:
            continue
        yield no, cert


def token_of(cert: IssuedCertificate) -> str:
    """The token of the certificate's QR code (what ``/V/`` and ``/api/v1/verify/`` take)."""
    return cert.qr.split("/V/", 1)[1]


def verify_pdf(app: App, pdf: bytes) -> VerificationResult:
    """``pdf`` (or an OFD, R-DOC-6) checked in full, as the upload page checks it: the app's seal
    checkers, keys, date, clock and policy."""
    from ecert.services import verification

    return verification.verify_pdf(
        app.uow(),
        pdf,
        check_signature=app.signature_checker,
        keys=app.qr_public_keys,
        today=app.clock.today(),
        now=app.clock.now(),
        policy=app.policy,
        check_ofd=app.ofd_checker if verification.is_ofd(pdf) else None,
    )
