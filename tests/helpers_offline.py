"""Helpers for the tests of offline verification (issue 14 items 2 and 3): a small site built in-process
— seal keys configured (no DEMO SM2 PKI to draw: that alone takes seconds), the demo registry, three
certificates (current, superseded by an employer change, revoked) and the signed status list — and
its offline kit written by ``ecert keys export-bundle``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from threading import Thread
from typing import Any

import uvicorn
from typer.testing import CliRunner

from ecert.adapters import keystore
from ecert.adapters.db.engine import make_engine, upgrade
from ecert.adapters.signing import pki
from ecert.bootstrap import App, bootstrap
from ecert.config import Settings
from ecert.domain.ids import make_uscc
from ecert.services import changes
from ecert.services.demo import seed_demo
from ecert.testing import free_port, issued_sample

TODAY = date(2021, 3, 1)
ACTOR = "test:offline"


@dataclass
class OfflineSite:
    """The site's App, its environment for the command line, and its three certificates."""

    core: App
    env: dict[str, str]
    qr: dict[str, str]  # current, superseded, revoked → what the QR code reads
    pdf: dict[str, bytes]
    root: Path

    def cli(self, *args: str, today: str | None = None, env: dict[str, str] | None = None) -> Any:
        """``ecert ARGS`` in-process with this site's environment (``env`` on top)."""
        from ecert.entrypoints.cli import cli

        full = {**self.env, "ECERT_TODAY": today or TODAY.isoformat(), **(env or {})}
        return CliRunner().invoke(cli, list(args), env=full, catch_exceptions=False)


def key_env(root: Path) -> dict[str, str]:
    """A configured seal (the DEMO PDF PKI's files, named as a deployment names its own) and a QR key."""
    made = pki.create_demo_pki(root / "pki")
    return {
        "ECERT_KEYS_DIR": str(root / "keys"),
        "ECERT_SEAL_KEY": str(made.seal_key),
        "ECERT_SEAL_CERT": str(made.seal_cert),
        "ECERT_TRUST_ROOTS": str(made.root_cert),
    }


def build_site(root: Path, db_url: str | None = None) -> OfflineSite:
    env = {"ECERT_DATABASE_URL": db_url or f"sqlite:///{root / 'site.db'}", **key_env(root), "ECERT_LANG": ""}
    keys = keystore.key_settings_from_env(env)
    keystore.ensure_keys(keys)  # the QR key only: the seal is configured
    engine = make_engine(env["ECERT_DATABASE_URL"])
    upgrade(engine)
    core = bootstrap(Settings(database_url=env["ECERT_DATABASE_URL"], today_override=TODAY), engine=engine, keys=keys)
    seed_demo(core.uow, 6, seed=2021, today=TODAY, now=core.clock.now())
    qr: dict[str, str] = {}
    pdf: dict[str, bytes] = {}
    numbers: list[str] = []
    for name, (no, cert) in zip(
        ("current", "superseded", "revoked"), issued_sample(core, 6, actor=ACTOR), strict=False
    ):
        numbers.append(no)
        qr[name] = cert.qr
        assert cert.pdf is not None
        pdf[name] = cert.pdf
    assert len(qr) == 3, "fewer than three demo holders can download"
    now = core.clock.now()
    changes.change_employer(core.uow(), numbers[1], name="新单位建设有限公司", uscc=make_uscc("330100", "MA0BC1D2E"),
                            actor=ACTOR, now=now)  # fmt: skip
    changes.revoke(core.uow(), numbers[2], reason="以欺骗手段取得注册", basis="《注册建造师管理规定》第三十三条",
                   effective=TODAY.isoformat(), actor=ACTOR, today=TODAY, now=now)  # fmt: skip
    return OfflineSite(core, env, qr, pdf, root)


@contextmanager
def serving_app(core: App) -> Iterator[str]:
    """The web app of ``core`` served by uvicorn on 127.0.0.1 in a thread of this process; its base URL."""
    from ecert.entrypoints.web.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(core), host="127.0.0.1", port=port, log_level="warning"))
    thread = Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the server did not start")
            thread.join(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
