"""schemathesis against /openapi.json: generated requests to every documented endpoint, anonymous
and signed in as an admin and as a holder, must never produce a server error (5xx).

Runs on SQLite (the database behaviour is covered by the other suites on both databases)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from ecert.adapters import keystore
from ecert.adapters.db.engine import make_engine, upgrade
from ecert.bootstrap import bootstrap
from ecert.config import Settings
from ecert.entrypoints.web import create_app
from ecert.services.demo import ensure_demo_accounts, seed_demo
from helpers_app import api_signed_in

TODAY = date(2021, 3, 1)


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d: Path = tmp_path_factory.mktemp("fuzz")
    engine = make_engine(f"sqlite:///{d / 'f.db'}")
    upgrade(engine)
    keys = keystore.key_settings_from_env({"ECERT_KEYS_DIR": str(d / "keys")})
    keystore.ensure_keys(keys)
    core = bootstrap(Settings(database_url=str(engine.url), today_override=TODAY), engine=engine, keys=keys)
    seed_demo(core.uow, 30, seed=2021, today=TODAY, now=core.clock.now(), signatures=30)
    accounts = {
        a["role"]: a for a in ensure_demo_accounts(core.uow, today=TODAY, now=core.clock.now(), policy=core.policy)
    }
    app = create_app(core)
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    for role in ("admin", "holder"):
        client = TestClient(app)
        csrf = api_signed_in(client, accounts[role]["username"], accounts[role]["password"])  # admin: 2nd factor too
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        headers[role] = {"Cookie": cookie, "X-CSRF-Token": csrf}
    return {"app": app, "headers": headers}


def test_no_server_errors_on_any_endpoint(web: dict[str, Any]) -> None:
    """Every operation of /openapi.json, fuzzed by schemathesis (hypothesis underneath)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", web["app"])
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10, [op.label for op in operations]
    calls = 0
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case: Any) -> None:
            nonlocal calls
            for who in ("anonymous", "admin", "holder"):
                case.call_and_validate(headers=web["headers"][who], checks=[not_a_server_error])
                calls += 1

        fuzz()
    assert calls >= 3 * len(operations), calls  # the fuzzing really ran
