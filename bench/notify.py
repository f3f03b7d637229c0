"""Benchmark: notifications to subscribers (issue 14 item 1), on PostgreSQL.

A change affecting 10,000 subscribed registrations — one employer's name changes, which supersedes
every certificate of its 10,000 constructors in one set-based statement (``ecert change employer-name``)
— must queue its 10,000 events in the change's own transaction in ≤ 2 s; the delivery job must then
send them, signed (Standard Webhooks), to a local receiver at ≥ 500 events a second.

Measured in one run, on a fresh database (the real import of synthetic holders, all given one employer):

- ``change``: the same kind of change before any subscription exists (the change alone), then with the
  10,000 subscriptions (the change plus its events); the events' own cost is the difference.
- ``queue_baseline``: what a naive outbox costs — reading the subscribers and inserting one event a
  statement in Python, in one transaction (for comparison; ecert's is one ``INSERT … SELECT``).
- ``deliver``: ``services.subscriptions.deliver_due`` (the ``deliver`` job: claims of 500 under a lease,
  ``ECERT_WEBHOOK_CONCURRENCY`` requests at a time on kept-alive connections, outcomes recorded per
  batch) to a receiver in another process (uvicorn) that verifies every signature with the
  ``standardwebhooks`` library and counts distinct event ids.
- ``deliver_baseline``: a naive sequential sender over the same outbox — one event at a time: read it,
  sign it, POST it on a new connection, mark it delivered in its own transaction — on ``--baseline``
  events (default 2,000), as a rate.

    .venv/bin/python bench/notify.py [--subscriptions 10000] [--baseline 2000] [--concurrency 8] [--pg URL]
                                      [--status-list]

Prints one JSON object per step and, last, ``{"metric", "unit", "ecert", "baseline", "ratio", …}``
(delivery rate, events a second; ``queue_s``: seconds the change with its events took).
``--status-list``: the hook for issue 14's other figure — runs ``bench/status_list.py`` (the offline
kit's benchmark, another branch) first, if present, and relays its lines, so one run prints both and
this metric stays the last line.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from harness import print_metric

sys.path.remove(os.path.dirname(os.path.realpath(__file__)))  # bench/http.py would shadow http

TODAY = date(2021, 9, 1)
PG_DEFAULT = os.environ.get("ECERT_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SECRET = "whsec_" + "YmVuY2gtc2VjcmV0LWZvci1ub3RpZnktYmVuY2htYXJr"
USCC = "91330100MA0BC1D2E4"  # one employer for every holder of the bench registry


def step(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


# ------------------------------------------------------------------------------------------ the receiver


def _receiver_main(port: int) -> None:
    import uvicorn
    from standardwebhooks import Webhook

    hook = Webhook(SECRET)
    seen: set[str] = set()
    bad = [0]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        if scope["method"] == "GET":
            out = json.dumps({"distinct": len(seen), "bad": bad[0]}).encode()
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-length", str(len(out)).encode())]}
            )
            await send({"type": "http.response.body", "body": out})
            return
        try:
            hook.verify(body, headers)
            seen.add(headers["webhook-id"])
            status = 204
        except Exception:
            bad[0] += 1
            status = 400
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False, http="httptools")


def receiver_counts(port: int) -> dict[str, int]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/count")
    data: dict[str, int] = json.loads(conn.getresponse().read())
    conn.close()
    return data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------------------ the registry


def build(url: str, keys_dir: Path, holders: int, work: Path, concurrency: int) -> Any:
    from ecert.adapters import keystore
    from ecert.adapters.db.engine import make_engine, upgrade
    from ecert.bootstrap import bootstrap
    from ecert.config import Settings, WebhookSettings
    from ecert.services import registry_import
    from ecert.services.synthetic import HEADER, generate_rows

    keys = keystore.key_settings_from_env({"ECERT_KEYS_DIR": str(keys_dir)})
    keystore.ensure_keys(keys)
    engine = make_engine(url)
    upgrade(engine)
    hooks = WebhookSettings(timeout=10, concurrency=concurrency, allow_http=True, allow_private=True)
    app = bootstrap(Settings(database_url=url, today_override=TODAY, webhooks=hooks), engine=engine, keys=keys)
    registry_csv = work / "registry.csv"
    name_col, uscc_col = HEADER.index("employer_name"), HEADER.index("employer_uscc")
    with registry_csv.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for row in generate_rows(holders, today=TODAY):
            row[name_col], row[uscc_col] = "某某建设集团有限公司", USCC
            w.writerow(row)
    t0 = time.perf_counter()
    registry_import.import_registry(app.uow(), registry_csv, today=TODAY, now=app.clock.now(), actor="bench")
    step(step="import", holders=holders, s=round(time.perf_counter() - t0, 2))
    return app


def subscribe_all(app: Any, url: str) -> int:
    """One active subscription (to the whole registration) per registration, written directly: setup."""
    from sqlalchemy import text

    with app.engine.begin() as conn:
        n = conn.execute(
            text(
                "INSERT INTO subscriptions (id, owner, registration_id, url, secret, status, created_at, verified_at)"
                " SELECT md5(id::text), 'client:bench', id, :url, :secret, 'active', now(), now() FROM registrations"
            ),
            {"url": url, "secret": SECRET},
        ).rowcount
    return int(n)


def rename(app: Any, name: str) -> float:
    from ecert.services import changes

    t0 = time.perf_counter()
    changes.rename_employer(app.uow(), USCC, name=name, actor="bench", now=app.clock.now())
    return time.perf_counter() - t0


def naive_queue(app: Any) -> float:
    """A naive outbox: the subscribers read into Python, one INSERT an event, one transaction."""
    import secrets as rnd

    from sqlalchemy import insert, select

    from ecert.adapters.db.tables import registrations, subscriptions, webhook_events

    now = datetime.now(UTC)
    t0 = time.perf_counter()
    with app.engine.begin() as conn:
        rows = conn.execute(
            select(subscriptions.c.id, registrations.c.registration_no).join(
                registrations, registrations.c.id == subscriptions.c.registration_id
            )
        ).all()
        for sub_id, number in rows:
            conn.execute(
                insert(webhook_events).values(
                    id="msg_" + rnd.token_hex(16),
                    subscription_id=sub_id,
                    type="certificate.superseded",
                    cause="employer_rename",
                    registration_no=number,
                    serial=None,
                    effective=TODAY,
                    basis=None,
                    occurred_at=now,
                    status="baseline",
                    attempts=0,
                    next_attempt_at=now,
                )
            )
        conn.rollback()
    return time.perf_counter() - t0


def naive_deliver(app: Any, port: int, limit: int) -> float:
    """One event at a time: read it, sign it, POST it on a new connection, mark it in its own transaction."""
    import http.client

    from sqlalchemy import select, update

    from ecert.adapters.db.tables import subscriptions, webhook_events
    from ecert.adapters.webhooks import encode, signed_headers
    from ecert.domain import subscriptions as subs
    from ecert.services.subscriptions import real_now

    e = webhook_events
    t0 = time.perf_counter()
    for _ in range(limit):
        with app.engine.begin() as conn:
            row = conn.execute(
                select(e, subscriptions.c.secret)
                .join(subscriptions, subscriptions.c.id == e.c.subscription_id)
                .where(e.c.status == "pending")
                .limit(1)
            ).first()
            assert row is not None
            event = subs.Event(row.id, row.subscription_id, row.type, row.cause, row.registration_no, row.serial,
                               row.effective, row.basis, row.occurred_at)  # fmt: skip
            body = encode(subs.event_body(event, "https://ecert.example.cn"))
            conn_http = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            headers = {"Content-Type": "application/json", **signed_headers(row.secret, row.id, body)}
            conn_http.request("POST", "/hook", body=body, headers=headers)
            assert conn_http.getresponse().status == 204
            conn_http.close()
            conn.execute(update(e).where(e.c.id == row.id).values(status="delivered", delivered_at=real_now()))
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--baseline", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--pg", default=PG_DEFAULT)
    parser.add_argument("--status-list", action="store_true", help="run bench/status_list.py first, if present")
    args = parser.parse_args()

    here = Path(__file__).resolve().parent
    if args.status_list:
        other = here / "status_list.py"
        if other.exists():
            out = subprocess.run([sys.executable, str(other)], capture_output=True, text=True, check=True).stdout
            for line in out.splitlines():
                print(line, flush=True)
        else:
            step(step="status_list", skipped="bench/status_list.py is not in this tree")

    from sqlalchemy import func, select, update

    from ecert.adapters.db.tables import webhook_events
    from ecert.services.subscriptions import deliver_due
    from ecert.testing import pg_schema

    port = free_port()
    ctx = multiprocessing.get_context("fork")
    recv = ctx.Process(target=_receiver_main, args=(port,), daemon=True)
    recv.start()
    with pg_schema(args.pg) as url, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        app = build(url, work / "keys", args.subscriptions, work, args.concurrency)
        alone = rename(app, "某某建设集团股份有限公司")
        n = subscribe_all(app, f"http://127.0.0.1:{port}/hook")
        naive_q = naive_queue(app)
        with_events = rename(app, "某某建设(集团)股份有限公司")
        with app.engine.connect() as conn:
            events = int(conn.execute(select(func.count()).select_from(webhook_events)).scalar_one())
        assert events == n, (events, n)
        step(step="change", registrations=n, events=events, change_alone_s=round(alone, 3),
             change_with_events_s=round(with_events, 3), events_cost_s=round(with_events - alone, 3),
             queue_baseline_s=round(naive_q, 3), goal_s=2.0)  # fmt: skip

        for _ in range(100):  # the receiver is up
            try:
                receiver_counts(port)
                break
            except OSError:
                time.sleep(0.1)
        t0, cpu0 = time.perf_counter(), time.process_time()
        run = deliver_due(app.uow, app.webhook_sender(), cfg=app.settings.webhooks, base_url=app.keys.base_url)
        took, sender_cpu = time.perf_counter() - t0, time.process_time() - cpu0
        counts = receiver_counts(port)
        assert run.delivered == n and counts["distinct"] == n and counts["bad"] == 0, (run, counts)
        rate = n / took
        step(step="deliver", events=n, s=round(took, 3), per_s=round(rate), goal_per_s=500,
             sender_cpu_ms_per_event=round(sender_cpu * 1000 / n, 3), **run.as_dict())  # fmt: skip

        with app.engine.begin() as conn:  # the same outbox again, for the naive sender
            conn.execute(update(webhook_events).values(status="pending"))
        base_s = naive_deliver(app, port, args.baseline)
        base_rate = args.baseline / base_s
        step(step="deliver_baseline", events=args.baseline, s=round(base_s, 3), per_s=round(base_rate))
        app.engine.dispose()
    recv.kill()
    print_metric(
        "notify_delivery", "events/s", rate, base_rate, 0, higher_is_better=True, events=n,
        queue_s=round(with_events, 3), change_alone_s=round(alone, 3), queue_goal_s=2.0, delivery_goal_per_s=500,
    )  # fmt: skip


if __name__ == "__main__":
    main()
