"""The attestation on the public site (issue 13): ``/.well-known/jwks.json``, ``GET /api/v1/attest``, the page
``/attest``, and a superseded verdict naming the current certificate (R-CHG-1) through the API."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from jwcrypto import jwk, jws
from sqlalchemy import Engine

from ecert.adapters.clock import Clock
from ecert.domain.ids import make_uscc
from ecert.entrypoints.web.app import create_app
from ecert.services import changes
from ecert.testing import issued_sample, token_of
from helpers_app import demo_app

TODAY = date(2021, 3, 1)


@pytest.fixture
def site(db_url: str, engine: Engine, tmp_path: Path) -> tuple[TestClient, str, str, object]:
    core = demo_app(db_url, engine, tmp_path / "keys", today=TODAY, clock=Clock(fixed_today=TODAY))
    first = next(issued_sample(core, 40, actor="test"), None)
    assert first is not None
    no, cert = first
    return TestClient(create_app(core)), no, token_of(cert), core


def test_api_answer_verifies_with_the_served_jwks_and_refuses_bad_dates__R_CHG_1(site: tuple) -> None:  # type: ignore[type-arg]
    client, no, _token, _core = site
    keys = jwk.JWKSet.from_json(client.get("/.well-known/jwks.json").text)
    res = client.get("/api/v1/attest", params={"registration_no": no, "date": "2021-03-01"})
    assert res.status_code == 200, res.text
    body = res.json()
    token = jws.JWS()
    token.deserialize(body["attestation"])
    kid = token.jose_header["kid"]
    token.verify(keys.get_key(kid), alg="EdDSA")  # jwcrypto, not the library that signed
    assert json.loads(token.payload) == body["document"]
    assert body["valid_on_date"] is True and body["reason_codes"][0] == "valid_on_date"
    future = client.get("/api/v1/attest", params={"registration_no": no, "date": "2021-03-02"})
    assert future.status_code >= 400 and future.json()["error"]["code"] == "date_in_future"
    bad = client.get("/api/v1/attest", params={"registration_no": no, "date": "03/01/2021"})
    assert bad.json()["error"]["code"] == "bad_input"
    both = client.get("/api/v1/attest", params={"registration_no": no, "serial": "X", "date": "2021-03-01"})
    assert both.json()["error"]["code"] == "bad_input"


def test_page_asks_and_shows_the_signed_answer__R_CHG_1(site: tuple) -> None:  # type: ignore[type-arg]
    client, no, _token, _core = site
    assert "在某日是否有效" in client.get("/attest").text
    page = client.get("/attest", params={"registration_no": no, "date": "2021-03-01"}).text
    assert "valid_on_date" in page and "eyJ" in page  # the reason code and the JWS
    refused = client.get("/attest", params={"registration_no": no, "date": "2020-01-01"}).text
    assert "date_before_rollout" in refused


def test_a_superseded_verdict_names_the_current_serial_not_the_file__R_CHG_1(site: tuple) -> None:  # type: ignore[type-arg]
    client, no, token, core = site
    now = datetime(2021, 3, 1, 4, 0, tzinfo=UTC)
    uscc = make_uscc("330100", "MA21KJ7Q3")
    changes.change_employer(core.uow(), no, name="另一家建筑工程有限公司", uscc=uscc, actor="t", now=now)  # type: ignore[attr-defined]
    verdict = client.get(f"/api/v1/verify/{token}").json()
    assert verdict["status"] == "superseded"
    assert verdict["reason_codes"] == ["superseded"]
    assert verdict["superseded_by"] is None  # no certificate issued since
    assert verdict["superseded_at"].startswith("2021-03-01T12:00:00+08:00")
