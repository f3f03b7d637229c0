"""Subscriptions through the web, the API and the CLI (issue 14 item 1), on SQLite and PostgreSQL: the
subscribe form on the verification result page for a signed-in employer; ``/api/v1/subscriptions`` for
an API client registered by the authority (bearer token) — each sees only its own (R-ACC-1); holders are
refused; ``ecert subscribe …`` in production settings refuses loopback and cloud-metadata URLs."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from ecert.adapters.db.tables import subscriptions, webhook_events
from ecert.entrypoints.web.app import create_app
from helpers_app import signed_in
from helpers_cli import USCC_A, USCC_B, import_holder, issue
from helpers_webhooks import hook_app, receiver

TODAY = "2021-03-01"
PASSWORD = "hooks-pass-2021"


def _user(ecert: Any, name: str, *args: str) -> None:
    res = ecert("user", "add", name, *args, "--password-stdin", "--json", input=PASSWORD + "\n", today=TODAY)
    assert res.exit_code == 0, res.stdout


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(subscriptions)).scalar_one())


def test_subscribe_from_the_result_page_the_api_and_the_cli__issue14_R_ACC_1(
    ecert: Any, tmp_path: Path, engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    no = import_holder(ecert, tmp_path)
    cert = issue(ecert, no, tmp_path / "c.pdf")
    serial, token = cert["serial"], cert["qr"].rstrip("/").rsplit("/", 1)[-1]
    _user(ecert, "boss-a", "--role", "employer", "--uscc", USCC_A)
    _user(ecert, "holder-1", "--role", "holder", "--registration-no", no)

    # Production settings (the defaults): loopback, cloud metadata and plain http are refused, nothing stored.
    for url in ("https://127.0.0.1/hook", "https://169.254.169.254/latest/meta-data", "http://hooks.example.com/"):
        res = ecert(
            "subscribe", "add", "--serial", serial, "--url", url, "--owner", "client:acme", "--json", today=TODAY
        )
        assert res.exit_code == 2 and res.json()["error"]["details"][0]["column"] == "url", res.stdout
    assert _count(engine) == 0

    app = create_app(hook_app(db_url, engine, date(2021, 3, 1)))
    with receiver() as recv:
        # An employer signed in sees the form on the verification result page and subscribes there.
        boss = signed_in(app, "boss-a", PASSWORD)
        page = boss.get(f"/V/{token}")
        assert 'action="/subscriptions"' in page.text and serial in page.text
        assert 'action="/subscriptions"' not in TestClient(app).get(f"/V/{token}").text  # not for the public
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        recv.secret = "whsec_" + "A" * 43  # until the real one is known the handshake fails: pending
        res = boss.post("/subscriptions", data={"csrf": csrf, "serial": serial, "url": recv.url})
        assert res.status_code == 201 and 'data-status="pending"' in res.text
        boss_secret = re.search(r'subscription-secret">([^<]+)<', res.text).group(1)  # type: ignore[union-attr]
        assert boss_secret.startswith("whsec_")

        # The authority registers an API client; it subscribes to the whole registration by the API.
        made = ecert("subscribe", "client-add", "acme", "--json", today=TODAY).json()
        api = TestClient(app, headers={"Authorization": f"Bearer {made['token']}"})
        recv.secret = "whsec_" + "B" * 43  # the client's secret comes back in the answer: the handshake fails
        body = {"serial": serial, "registration_no": no, "url": recv.url}
        res = api.post("/api/v1/subscriptions", json=body)
        assert res.status_code == 201 and res.json()["status"] == "pending", res.text  # the receiver lacks the secret
        created = res.json()
        recv.secret = created["secret"]  # now the receiver knows it
        res = api.post(f"/api/v1/subscriptions/{created['id']}/verification")
        assert res.json()["status"] == "active", res.text
        mine = api.get("/api/v1/subscriptions").json()["subscriptions"]
        assert [(s["id"], s["scope"]) for s in mine] == [(created["id"], "registration")] and "secret" not in mine[0]
        boss_list = boss.get("/api/v1/subscriptions").json()["subscriptions"]
        assert len(boss_list) == 1 and boss_list[0]["owner"] == "user:boss-a"
        # Another's subscription is not there for you (no oracle: the same not_found as an unknown id).
        assert api.delete(f"/api/v1/subscriptions/{boss_list[0]['id']}").status_code == 404
        assert api.get("/api/v1/subscriptions/unknown/deliveries").status_code == 404

        # Who may not: anonymous (401), a wrong token (401), a holder (403); the session API needs CSRF.
        assert TestClient(app).get("/api/v1/subscriptions").status_code == 401
        wrong = TestClient(app, headers={"Authorization": "Bearer ecc_nope"})
        assert wrong.post("/api/v1/subscriptions", json=body).status_code == 401
        assert signed_in(app, "holder-1", PASSWORD).get("/api/v1/subscriptions").status_code == 403
        assert boss.post("/api/v1/subscriptions", json=body).json()["error"]["code"] == "csrf_failed"

        # An event flows to the verified one only; the log shows it; the authority redelivers it by the CLI.
        assert ecert("change", "employer", no, "--name", "另一家建设有限公司", "--uscc", USCC_B, "--json",
                     today=TODAY).exit_code == 0  # fmt: skip
        monkeypatch.setenv("ECERT_WEBHOOK_ALLOW_HTTP", "1")
        monkeypatch.setenv("ECERT_WEBHOOK_ALLOW_PRIVATE", "1")
        assert ecert("subscribe", "deliver", "--json", today=TODAY).json()["delivered"] == 1
        [event] = api.get(f"/api/v1/subscriptions/{created['id']}/deliveries").json()["events"]
        assert event["status"] == "delivered" and event["log"][0]["status_code"] == 204
        again = ecert("subscribe", "redeliver", "--event", event["event_id"], "--json", today=TODAY)
        assert again.json() == {"queued": 1}
        assert ecert("subscribe", "deliver", "--json", today=TODAY).json()["delivered"] == 1
        log = ecert("subscribe", "log", created["id"], "--json", today=TODAY).json()
        assert [len(e["log"]) for e in log["events"]] == [2]
        assert list(recv.kept) == [event["event_id"]]  # sent twice, kept once
        listed = ecert("subscribe", "list", "--json", today=TODAY).json()["subscriptions"]
        assert {s["owner"] for s in listed} == {"user:boss-a", "client:acme"}
        # The authority's page: every subscription, and a given-up notification sent again from there.
        _user(ecert, "chief", "--role", "admin")
        with engine.begin() as conn:  # as after its last try
            conn.execute(webhook_events.update().values(status="dead"))
        chief = signed_in(app, "chief", PASSWORD)
        page = chief.get("/admin/subscriptions")
        assert page.status_code == 200 and f'data-subscription="{created["id"]}"' in page.text
        assert boss.get("/admin/subscriptions").status_code == 403
        admin_csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        res = chief.post(
            f"/admin/subscriptions/{created['id']}/redeliver", data={"csrf": admin_csrf}, follow_redirects=False
        )
        assert res.status_code == 303
        assert ecert("subscribe", "deliver", "--json", today=TODAY).json()["delivered"] == 1
        assert list(recv.kept) == [event["event_id"]]  # a third time, still kept once
        assert api.delete(f"/api/v1/subscriptions/{created['id']}").json() == {"id": created["id"], "removed": True}
    assert recv.bad_signatures == 2  # the two handshakes signed with a secret the receiver did not hold
    assert _count(engine) == 1
