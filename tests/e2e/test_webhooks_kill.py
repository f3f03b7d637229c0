"""A worker killed mid-delivery (issue 14 "Done when"), on SQLite and PostgreSQL: the receiver already
has the event, the worker dies before recording it, the event is sent again after its lease with the
same ``webhook-id``, and the receiver keeps exactly one. On PostgreSQL the first sender is the real
queue worker (``ecert jobs worker``), running the delivery job the change queued in its own
transaction; on SQLite (no queue) it is ``ecert subscribe deliver``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, text

import ecert
from ecert.adapters.db.tables import webhook_events
from ecert.entrypoints.jobs import definitions
from ecert.services import subscriptions as service
from helpers_cli import USCC_B, import_holder, issue
from helpers_webhooks import hook_app, receiver

TODAY = "2021-03-01"
SRC = str(Path(ecert.__file__).resolve().parents[1])  # this tree's code, not an installed copy


def test_worker_killed_mid_delivery_receiver_keeps_exactly_one_event__issue14(
    ecert: Any, tmp_path: Path, engine: Engine, db_url: str
) -> None:
    no = import_holder(ecert, tmp_path)
    serial = issue(ecert, no, tmp_path / "c.pdf")["serial"]
    app = hook_app(db_url, engine, date(2021, 3, 1))
    with receiver() as recv:
        sender = app.webhook_sender()
        sub = service.subscribe(app.uow(), owner="client:acme", serial=serial, url=recv.url,
                                check_url=sender.check_url, now=app.clock.now())  # fmt: skip
        recv.secret = sub.secret
        assert service.handshake(app.uow, sender, sub.id, owner=None)["status"] == "active"
        recv.mode = "hold_first"  # keeps the first event, then never answers: the sender dies waiting
        res = ecert("change", "employer", no, "--name", "另一家建设有限公司", "--uscc", USCC_B, "--json", today=TODAY)
        assert res.exit_code == 0, res.stdout
        postgres = engine.dialect.name == "postgresql"
        if postgres:  # the change queued the delivery job in its own transaction
            with engine.connect() as conn:
                queued = conn.execute(text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'ecert.deliver'"))
                assert queued.scalar_one() == 1
        env = {k: v for k, v in os.environ.items() if not k.startswith("ECERT_")}
        env.update(PYTHONPATH=SRC, ECERT_DATABASE_URL=db_url, ECERT_TODAY=TODAY, ECERT_WEBHOOK_ALLOW_HTTP="1",
                   ECERT_WEBHOOK_ALLOW_PRIVATE="1", ECERT_WEBHOOK_LEASE="1.5", ECERT_WEBHOOK_TIMEOUT="30")  # fmt: skip
        cmd = ["jobs", "worker", "--stalled-after", "3"] if postgres else ["subscribe", "deliver"]
        worker = subprocess.Popen([sys.executable, "-m", "ecert.entrypoints.cli", *cmd], cwd=tmp_path, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
        try:
            assert recv.holding.wait(60), worker.stderr.read().decode() if worker.stderr else ""
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=30)
        killed_at = time.monotonic()
        [event] = service.deliveries(app.uow(), sub.id, owner=None)["events"]
        assert (event["status"], event["attempts"], event["log"]) == ("pending", 1, [])  # claimed, never recorded
        with engine.connect() as conn:
            lease_end = conn.execute(select(webhook_events.c.locked_until)).scalar_one()
        early = definitions.deliver(app)
        if service.real_now() < lease_end.replace(tzinfo=lease_end.tzinfo or UTC):  # (a loaded machine may be late)
            assert early["sent"] == 0  # still under the dead worker's lease: nobody sends it meanwhile
        time.sleep(max(0.0, 1.6 - (time.monotonic() - killed_at)))
        recv.mode = "ok"
        late = definitions.deliver(app)
        assert (early["sent"] + late["sent"], early["delivered"] + late["delivered"]) == (1, 1)
    assert [r["id"] for r in recv.requests] == [event["event_id"]] * 2  # sent twice, the same id ...
    assert list(recv.kept) == [event["event_id"]]  # ... kept once
    assert recv.bad_signatures == 0
