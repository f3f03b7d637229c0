"""Request bodies have limits, refused in ecert's own error shape (issue "Trust under attack",
uploads): a declared ``Content-Length`` over the limit gets 413 before one byte is read; a body that
runs past it while being read (chunked, or longer than declared) stops there with 413; a form that
Starlette cannot parse (5,000 fields) is ``bad_input``, not Starlette's ``{"detail": …}``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from ecert.adapters import keystore
from ecert.bootstrap import App, bootstrap
from ecert.config import Settings
from ecert.domain.verification import MAX_CERTIFICATE_FILE
from ecert.entrypoints.web.app import FORM_OVERHEAD, create_app

MB = 1024 * 1024


@pytest.fixture
def core(db_url: str, engine: Engine, tmp_path: Path) -> App:
    keys = keystore.key_settings_from_env({"ECERT_KEYS_DIR": str(tmp_path / "keys")})
    keystore.ensure_keys(keys)
    return bootstrap(Settings(database_url=db_url), engine=engine, keys=keys)


MULTIPART = {"content-type": "multipart/form-data; boundary=XyZ"}
PART_HEAD = (
    b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="c.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
)


def _call(
    app: Any, path: str, headers: dict[str, str], chunks: int, chunk: bytes = b"0" * MB
) -> tuple[int, bytes, int]:
    """POST ``path`` through the ASGI app with ``chunks`` body chunks offered; returns (status, body,
    chunks the app read)."""
    read = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        head = PART_HEAD if read == 1 else b""  # a well-formed file part that never ends
        return {"type": "http.request", "body": head + b"0" * MB, "more_body": read < chunks}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("203.0.113.5", 40000), "server": ("testserver", 80),
    }  # fmt: skip

    async def run() -> None:
        await app(scope, receive, send)

    asyncio.run(run())
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body, read


@pytest.mark.parametrize("path", ["/api/v1/verify/pdf", "/verify", "/api/v1/session", "/admin/import"])
def test_a_declared_length_over_the_limit_is_refused_before_reading(core: App, path: str) -> None:
    app = create_app(core)
    declared = core.settings.web.import_max_bytes + FORM_OVERHEAD + 1 if "import" in path else 50 * MB
    status, body, read = _call(app, path, {**MULTIPART, "content-length": str(declared)}, chunks=100)
    assert (status, read) == (413, 0)
    if path.startswith("/api/"):
        error = json.loads(body)["error"]
        assert error["code"] == "payload_too_large" and "MB" in error["message"]
    else:
        assert "上传的内容过大" in body.decode()  # ecert's error page, not a bare status


def test_a_body_that_runs_past_the_limit_while_read_stops_there(core: App) -> None:
    app = create_app(core)
    limit_chunks = (MAX_CERTIFICATE_FILE + FORM_OVERHEAD) // MB + 1
    status, body, read = _call(app, "/api/v1/verify/pdf", MULTIPART, chunks=200)  # chunked: no length
    assert status == 413 and json.loads(body)["error"]["code"] == "payload_too_large"
    assert read <= limit_chunks + 1, read  # it stopped at the limit, not at the end of the 200 MB
    lied = {**MULTIPART, "content-length": "1000"}  # declares little, sends much
    status, _, read = _call(app, "/api/v1/verify/pdf", lied, chunks=200)
    assert status in (400, 413) and read <= limit_chunks + 1


def test_a_form_starlette_cannot_parse_is_bad_input_in_ecerts_shape(core: App) -> None:
    client = TestClient(create_app(core))
    fields = {f"f{i}": "x" for i in range(5_000)}
    api = client.post("/api/v1/verify/pdf", data=fields, files={"file": ("c.pdf", b"%PDF-1.7", "application/pdf")})
    assert api.status_code == 400, api.text
    error = api.json()["error"]
    assert error["code"] == "bad_input" and "detail" not in api.json()
    assert "1000" in error["details"][0]["message"]
    page = client.post("/verify", data=fields, files={"file": ("c.pdf", b"%PDF-1.7", "application/pdf")})
    assert page.status_code == 400 and "提交的内容有误" in page.text
