"""A notification receiver for the subscription tests (issue 14): a small HTTP server on 127.0.0.1 that
checks every request with the ``standardwebhooks`` verifier (off-the-shelf code, as a subscriber would),
answers the URL handshake, keeps each event once (by its ``webhook-id``), and can misbehave: answer 500,
redirect, never answer in time, or hold the first event until told to let it go."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from standardwebhooks import Webhook

from ecert.bootstrap import App, bootstrap
from ecert.config import Settings, WebhookSettings

# Fast settings for tests: loopback over plain http allowed, short timeout, lease and back-off.
TEST_HOOKS = WebhookSettings(
    timeout=0.25, max_attempts=3, backoff=30, backoff_max=600, lease=0.5, concurrency=4, allow_http=True,
    allow_private=True,
)  # fmt: skip


def hook_app(db_url: str, engine: Engine, today: date, hooks: WebhookSettings = TEST_HOOKS) -> App:
    """An App on the test database (keys of ``ecert init`` in the working directory) with ``hooks``."""
    return bootstrap(Settings(database_url=db_url, today_override=today, webhooks=hooks), engine=engine)


@dataclass
class Receiver:
    secret: str = ""
    mode: str = "ok"  # ok | 500 | redirect | slow | hold_first
    kept: dict[str, Any] = field(default_factory=dict)  # webhook-id -> body, each id once
    requests: list[dict[str, Any]] = field(default_factory=list)  # every event request, duplicates too
    bad_signatures: int = 0
    redirect_hits: int = 0
    challenges: int = 0
    release: threading.Event = field(default_factory=threading.Event)
    holding: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/ecert"


@contextmanager
def receiver(**kwargs: Any) -> Iterator[Receiver]:
    state = Receiver(**kwargs)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, code: int, headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path == "/elsewhere":
                state.redirect_hits += 1
                self._answer(200)
                return
            headers = dict(self.headers.items())
            try:
                payload = Webhook(state.secret).verify(body, headers)
            except Exception:  # WebhookVerificationError: forged, altered, stale, or signed with another secret
                state.bad_signatures += 1
                self._answer(400)
                return
            if "webhook-challenge" in {k.lower() for k in headers}:
                state.challenges += 1
                response = Webhook(state.secret).endpoint_verification_response(self.headers["webhook-challenge"])
                self._answer(200, {"webhook-challenge-response": response})
                return
            state.requests.append({"id": self.headers["webhook-id"], "body": payload})
            if state.mode == "500":
                self._answer(500)
            elif state.mode == "redirect":
                self._answer(307, {"Location": "/elsewhere"})
            elif state.mode == "slow":
                state.release.wait(5)
                self._answer(200)
            elif state.mode == "hold_first" and not state.holding.is_set():
                state.kept.setdefault(self.headers["webhook-id"], payload)  # it has the event ...
                state.holding.set()  # ... and answers too late: the sender is killed meanwhile
                state.release.wait(30)  # the worker is killed meanwhile; this answer goes nowhere
                self.close_connection = True
            else:
                state.kept.setdefault(self.headers["webhook-id"], payload)  # a duplicate id is dropped
                self._answer(204)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    """A port nothing listens on (a receiver that is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path
