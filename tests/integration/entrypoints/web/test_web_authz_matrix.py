"""The authorization matrix of the web service (R-ACC-1, R-REN-6), on SQLite and PostgreSQL.

Every role — anonymous, holder A, holder B (both 浙), the reviewer of 浙, the reviewer of 京 and the
ministry admin — against every ``/api/v1`` operation of the OpenAPI document (a new operation without
a row here fails ``test_matrix_covers_every_api_operation``), and against the HTML pages. The target
is always holder A's data: A's registration, A's pending renewal application, A's issued certificate.

R-ACC-1: holders see only their own certificates and applications (the registration number comes
from the session, never from the request); reviewers only their province (R-REN-6); the public only
what the QR check shows, with the ID number masked.

Each cell sends a request that would succeed for an allowed role (valid body, the session's CSRF
token), so a refusal is the authorization and nothing else; afterwards the registry, applications
and certificates are compared with a snapshot taken before: a refused cell changes nothing, an
allowed one changes only the data of the holder it concerns. Allowed cells that change a holder's
data (``*`` in ``ROWS``) run in a world of their own; everything else shares one world per database
(a holder's download only adds a certificate of their own, which no other cell depends on).

Refusals: 401 ``unauthenticated`` without a session, 403 ``forbidden`` for a wrong role (rule
R-ACC-1) or another province (rule R-REN-6). Nothing answers 404 to hide existence: for anonymous
callers and holders the refusal comes before any lookup, so A's ids and unknown ids get the same
answer (no oracle); a reviewer of another province gets 403 for A's application but 404 for an
unknown id — accepted: reviewers are authority staff, and a registration number names its province.
"""

from __future__ import annotations

import csv
import io
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

import ecert.bootstrap as composition_root
from ecert.adapters import keystore, ratelimit
from ecert.adapters.db.engine import make_engine, upgrade
from ecert.adapters.db.tables import (
    certificates,
    holder_images,
    registrations,
    renewal_applications,
    renewal_items,
    specialty_registrations,
    users,
)
from ecert.bootstrap import App, bootstrap
from ecert.config import Settings
from ecert.domain.errors import EcertError, RuleRefusal
from ecert.domain.ids import make_id_number, make_registration_no, make_uscc
from ecert.domain.model import Gender
from ecert.domain.rules.renewal import check_renewal_application
from ecert.services import accounts, demo, issuance, registry, renewal
from ecert.services.issuance import IssuedCertificate
from ecert.testing import pg_schema
from helpers_app import Served, api_signed_in, fresh_code, renewable_days

PG_URL = os.environ.get("ECERT_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
SEED_DAY = date(2021, 3, 1)
PASSWORD = "matrix-pass-2021"
CE_HOURS = 150
NEW_USCC = make_uscc("330100", "MA2RN7E0K")

ANON, HOLDER_A, HOLDER_B, REVIEWER_ZJ, REVIEWER_BJ, ADMIN, EMPLOYER = ROLES = (
    "anonymous",
    "holder_a",
    "holder_b",
    "reviewer_zj",
    "reviewer_bj",
    "admin",
    "employer",  # A's employer (issue 13): its roster reports only
)
USERNAME = {
    HOLDER_A: "holder-a",
    HOLDER_B: "holder-b",
    REVIEWER_ZJ: "reviewer-zj",
    REVIEWER_BJ: "reviewer-bj",
    ADMIN: "ministry",
    EMPLOYER: "employer-a",
}


# ---------------------------------------------------------------------------------------------- the world


@dataclass(frozen=True)
class Cast:
    """Who is who in the DEMO registry (seed 2021) and on which day: A has a specialty inside its
    renewal window (R-REN-1) and can download; B (浙) can download and apply; C is a 京 holder."""

    today: date
    a: str
    a_specialty: str
    b: str
    b_specialty: str
    c: str


@dataclass
class World(Served):
    cast: Cast
    application_id: int | None  # A's pending renewal application
    cert: IssuedCertificate  # A's sealed certificate, its serial and what its QR code holds
    ids: dict[str, int]  # registrations.id of A, B, C
    id_numbers: dict[str, str]  # full ID numbers of A, B, C
    names: dict[str, str]
    sessions: dict[str, tuple[TestClient, str]] = field(default_factory=dict)

    @property
    def today(self) -> date:
        return self.cast.today

    @property
    def token(self) -> str:
        return self.cert.qr.rstrip("/").rsplit("/", 1)[-1]

    def client(self) -> TestClient:
        return TestClient(self.app, follow_redirects=False)

    def sign_in(self, role: str) -> tuple[TestClient, str]:
        """A new client signed in through ``POST /api/v1/session``, with its CSRF token."""
        c = self.client()
        return c, api_signed_in(c, USERNAME[role], PASSWORD)  # staff pass the second factor too

    def session(self, role: str) -> tuple[TestClient, str]:
        """The role's long-lived client (anonymous: a client without a session, empty token)."""
        if role == ANON:
            return self.client(), ""
        if role not in self.sessions:
            self.sessions[role] = self.sign_in(role)
        return self.sessions[role]

    def own(self, role: str) -> str:
        """The registration a holder role acts on: their own."""
        return {HOLDER_A: self.cast.a, HOLDER_B: self.cast.b}[role]


@contextmanager
def _database(backend: str, tmp: Path) -> Iterator[tuple[str, Engine]]:
    """A new empty database: a SQLite file or a PostgreSQL schema dropped afterwards."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp / f'ecert-{uuid.uuid4().hex[:8]}.db'}"
        engine = make_engine(url)
        upgrade(engine)
        try:
            yield url, engine
        finally:
            engine.dispose()
        return
    assert PG_URL is not None
    with pg_schema(PG_URL) as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
            yield url, engine
        finally:
            engine.dispose()


def _downloadable(core: App, reg_no: str, day: date) -> bool:
    try:
        issuance.preview(core.uow(), reg_no, today=day, policy=core.policy)
    except EcertError:
        return False
    return True


def _applicable(core: App, reg_no: str, day: date) -> str | None:
    """A specialty of ``reg_no`` a renewal application may name on ``day`` (R-REN-1, R-REN-2), if any."""
    with core.uow() as uow:
        reg = registry.get_registration(uow, reg_no)
    for spec in reg.specialties:
        try:
            check_renewal_application(reg, [spec.specialty], day, core.policy, committed=True, ce_hours=CE_HOURS)
        except RuleRefusal:
            continue
        return spec.specialty
    return None


def _choose_cast(core: App) -> Cast:
    with core.engine.connect() as conn:
        rows = conn.execute(
            select(registrations.c.registration_no, registrations.c.province_code)
            .where(registrations.c.status == "active")
            .order_by(registrations.c.registration_no)
        ).all()
    zj = [r.registration_no for r in rows if r.province_code == "33"]
    bj = [r.registration_no for r in rows if r.province_code == "11"]
    found: list[Cast] = []
    for day, a, specialty, _ in renewable_days(core, zj, after=SEED_DAY):
        if not _downloadable(core, a, day):
            continue
        b = next(
            (
                (no, spec)
                for no in zj
                if no != a and _downloadable(core, no, day) and (spec := _applicable(core, no, day))
            ),
            None,
        )
        c = next((no for no in bj if _downloadable(core, no, day)), None)
        if b is not None and c is not None:
            found.append(Cast(day, a, specialty, b[0], b[1], c))
    assert found, "the DEMO registry has no 浙 pair A, B and 京 holder C for the matrix"
    return min(found, key=lambda cast: (cast.today, cast.a))


def _build(url: str, engine: Engine, keys: keystore.KeySettings, cast: Cast | None, *, applied: bool = True) -> World:
    seeder = bootstrap(Settings(database_url=url, today_override=SEED_DAY), engine=engine, keys=keys)
    demo.seed_demo(seeder.uow, 40, seed=2021, today=SEED_DAY, now=seeder.clock.now())
    cast = cast or _choose_cast(seeder)
    core = bootstrap(Settings(database_url=url, today_override=cast.today), engine=engine, keys=keys)
    now = core.clock.now()
    with engine.connect() as conn:
        a_uscc = conn.execute(
            select(registrations.c.employer_uscc).where(registrations.c.registration_no == cast.a)
        ).scalar_one()
    accounts.add_user(
        core.uow(), USERNAME[EMPLOYER], role="employer", password=PASSWORD, employer_uscc=a_uscc, actor="test", now=now
    )
    for role, province, reg_no in (
        (HOLDER_A, None, cast.a),
        (HOLDER_B, None, cast.b),
        (REVIEWER_ZJ, "浙", None),
        (REVIEWER_BJ, "京", None),
        (ADMIN, None, None),
    ):
        accounts.add_user(
            core.uow(),
            USERNAME[role],
            role="holder" if role.startswith("holder") else "reviewer" if role.startswith("reviewer") else "admin",
            password=PASSWORD,
            registration_no=reg_no,
            province=province,
            actor="test",
            now=now,
        )
    application_id = None
    if applied:
        application_id = int(
            renewal.apply_renewal(
                core.uow(),
                cast.a,
                [cast.a_specialty],
                committed=True,
                ce_hours=CE_HOURS,
                actor=f"holder:{USERNAME[HOLDER_A]}",
                today=cast.today,
                now=now,
                policy=core.policy,
            )["application_id"]
        )
    cert = issuance.issue(
        core.uow(),
        cast.a,
        confirm=True,
        actor=f"holder:{USERNAME[HOLDER_A]}",
        today=cast.today,
        now=now,
        policy=core.policy,
        docs=core.documents,
    )
    with engine.connect() as conn:
        people = conn.execute(
            select(registrations.c.registration_no, registrations.c.id, registrations.c.id_number, registrations.c.name)
            .where(registrations.c.registration_no.in_([cast.a, cast.b, cast.c]))
        ).all()  # fmt: skip
    core.sequence_audit(full=True)  # as the web process's sequencer would: a checkpoint, event 1 in the tree
    return World(
        core,
        cast=cast,
        application_id=application_id,
        cert=cert,
        ids={p.registration_no: p.id for p in people},
        id_numbers={p.registration_no: p.id_number for p in people},
        names={p.registration_no: p.name for p in people},
    )


@pytest.fixture(scope="module", autouse=True)
def cheap_hashing_and_no_verify_throttle() -> Iterator[None]:
    """argon2id at minimal cost (several accounts a world); the public pages' per-client rate limit is
    per process and not what this module checks, so it gets a bucket of its own."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
        mp.setattr(composition_root, "make_rate_limiter", lambda settings: ratelimit.ClientBuckets(100_000))
        yield


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> keystore.KeySettings:
    settings = keystore.key_settings_from_env({"ECERT_KEYS_DIR": str(tmp_path_factory.mktemp("keys"))})
    keystore.ensure_keys(settings)
    return settings


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def world(backend: str, keys: keystore.KeySettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The shared world of one database: read-only and refused cells only."""
    with _database(backend, tmp_path_factory.mktemp("db")) as (url, engine):
        yield _build(url, engine, keys, None)


@pytest.fixture
def make_world(
    backend: str, keys: keystore.KeySettings, world: World, tmp_path: Path
) -> Iterator[Callable[..., World]]:
    """A world of its own (a new database, same cast) for an allowed cell that changes data."""
    with ExitStack() as stack:

        def make(*, applied: bool = True) -> World:
            url, engine = stack.enter_context(_database(backend, tmp_path))
            return _build(url, engine, keys, world.cast, applied=applied)

        yield make


# ---------------------------------------------------------------------------------------------- snapshots

Snapshot = dict[str, set[tuple[tuple[str, Any], ...]]]
TRACKED = (registrations, specialty_registrations, renewal_applications, renewal_items, certificates, users)


def snapshot(engine: Engine) -> Snapshot:
    """Every row that holds a holder's data (the audit log and sessions aside), as comparable items. The
    staff's second-factor columns of ``users`` are the sign-in's own state, like the sessions: aside too."""
    out: Snapshot = {}
    with engine.connect() as conn:
        for table in TRACKED:
            cols = [c for c in table.c if not c.name.startswith("totp_")]
            out[table.name] = {tuple(sorted(r._mapping.items())) for r in conn.execute(select(*cols))}
        cols = [c for c in holder_images.c if c.name != "data"]
        out[holder_images.name] = {tuple(sorted(r._mapping.items())) for r in conn.execute(select(*cols))}
    return out


@dataclass(frozen=True)
class Change:
    removed: list[dict[str, Any]]
    added: list[dict[str, Any]]


def changes(before: Snapshot, after: Snapshot) -> dict[str, Change]:
    out = {}
    for name in before:
        removed, added = before[name] - after[name], after[name] - before[name]
        if removed or added:
            out[name] = Change([dict(r) for r in removed], [dict(r) for r in added])
    return out


def owners(diff: dict[str, Change]) -> set[int]:
    """The registrations whose rows changed."""
    found = set()
    for name, change in diff.items():
        for row in change.removed + change.added:
            found.add(row["id"] if name == "registrations" else row["registration_id"])
    return found


# ---------------------------------------------------------------------------------------------- the rows


def _headers(csrf: str) -> dict[str, str]:
    return {"X-CSRF-Token": csrf} if csrf else {}


def _new_holder_csv() -> bytes:
    birth = date(1980, 5, 17)
    header = ["registration_no", "name", "gender", "birth_date", "id_number", "employer_name", "employer_uscc"]
    header += ["specialty", "valid_until"]
    row = [make_registration_no("浙", "33", 2010, 2012, 90_001), "王建国", "男", birth.isoformat()]
    row += [make_id_number("330102", birth, 1, Gender.MALE), "浙江某建设有限公司", NEW_USCC, "建筑工程", "2023-06-30"]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerow(row)
    return buf.getvalue().encode("utf-8")


def _window_body(w: World, reg_no: str) -> dict[str, Any]:
    window = issuance.preview(w.core.uow(), reg_no, today=w.today, policy=w.core.policy)
    return {"confirm": True, "usage_from": window.usage_from.isoformat(), "usage_until": window.usage_until.isoformat()}


def _renewal_body(w: World, role: str) -> dict[str, Any]:
    specialty = w.cast.b_specialty if role == HOLDER_B else w.cast.a_specialty
    return {"specialties": [specialty], "commit_ce": True, "ce_hours": CE_HOURS}


def _acting_on(w: World, role: str) -> str:
    """The registration whose request body a role sends: a holder its own, everyone else A's."""
    return w.own(role) if role in (HOLDER_A, HOLDER_B) else w.cast.a


Send = Callable[[World, str, TestClient, str], httpx.Response]
Check = Callable[[World, str, httpx.Response, dict[str, Change]], None]


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # as in the OpenAPI document
    expect: tuple[str, ...]  # one per ROLES: "200", "201" (…"*": in a world of its own), "401", "403", "403p"
    send: Send
    check: Check
    writes: bool = False  # an allowed cell changes the registry (checked by ``check``)

    def outcome(self, role: str) -> str:
        return self.expect[ROLES.index(role)]


def _no_full_id_number(w: World, res: httpx.Response) -> None:
    for full in w.id_numbers.values():
        assert full not in res.text, "a full ID number left the server (R-ACC-1)"


def _only_own(w: World, role: str, res: httpx.Response) -> None:
    """What a holder's call returns never names another holder (R-ACC-1)."""
    _no_full_id_number(w, res)
    for other in (w.cast.a, w.cast.b, w.cast.c):
        if other != w.own(role):
            assert other not in res.text and w.names[other] not in res.text


# --- public


def send_verify_token(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    return c.get(f"/api/v1/verify/{w.token}")


def check_verify_token(w: World, role: str, res: httpx.Response, diff: dict[str, Change]) -> None:
    body = res.json()
    assert body["status"] == "valid" and body["registration_no"] == w.cast.a
    assert body["current"]["id_number"] != w.id_numbers[w.cast.a] and "*" in body["current"]["id_number"]
    _no_full_id_number(w, res)
    anonymous = w.client().get(f"/api/v1/verify/{w.token}")
    assert body == anonymous.json(), "a signed-in caller sees exactly what the public sees"


def send_verify_pdf(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    files = {"file": ("a.pdf", w.cert.pdf, "application/pdf")}
    return c.post("/api/v1/verify/pdf", files=files, headers=_headers(csrf))


def send_verify_file(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    """The neutral name of the file check (a PDF or an OFD, R-DOC-6)."""
    files = {"file": ("a.pdf", w.cert.pdf, "application/pdf")}
    return c.post("/api/v1/verify/file", files=files, headers=_headers(csrf))


def check_verify_pdf(w: World, role: str, res: httpx.Response, diff: dict[str, Change]) -> None:
    body = res.json()
    assert body["status"] == "valid" and body["serial"] == w.cert.serial
    assert "*" in body["current"]["id_number"]
    _no_full_id_number(w, res)


def send_attest(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    """Was the certificate valid on a date (issue 13): public, like the QR check."""
    return c.get("/api/v1/attest", params={"serial": w.cert.serial, "date": w.cert.usage_from.isoformat()})


def check_attest(w: World, role: str, res: httpx.Response, diff: dict[str, Change]) -> None:
    body = res.json()
    assert body["valid_on_date"] is True and w.cert.serial in body["serials"], body
    assert body["attestation"].count(".") == 2  # a compact JWS
    _no_full_id_number(w, res)
    params = {"serial": w.cert.serial, "date": w.cert.usage_from.isoformat()}
    anonymous = w.client().get("/api/v1/attest", params=params).json()
    same = ("valid_on_date", "reason_codes", "serials")  # the answer; asked_at and the audit head move on
    assert [body[k] for k in same] == [anonymous[k] for k in same], "a signed-in caller learns what the public learns"


# --- session


def send_sign_in(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    """Each role signs in as itself, in a new client (the shared session stays as it is); anonymous tries
    holder A without A's password. Holder B first tries A's account with B's own password: refused."""
    if role == ANON:
        return c.post("/api/v1/session", json={"username": USERNAME[HOLDER_A], "password": "not-" + PASSWORD})
    if role == HOLDER_B:
        fresh = w.client()
        tried = fresh.post("/api/v1/session", json={"username": USERNAME[HOLDER_A], "password": PASSWORD + "-b"})
        assert tried.status_code == 401 and "set-cookie" not in tried.headers
        assert fresh.get("/api/v1/me").status_code == 401
    return w.client().post("/api/v1/session", json={"username": USERNAME[role], "password": PASSWORD})


def check_sign_in(w: World, role: str, res: httpx.Response, diff: dict[str, Change]) -> None:
    body = res.json()
    assert body["username"] == USERNAME[role] and body["csrf_token"]
    roles = {HOLDER_A: "holder", HOLDER_B: "holder", ADMIN: "admin", EMPLOYER: "employer"}
    assert body["role"] == roles.get(role, "reviewer")
    # Staff (enrolled by their shared session) still have the second factor to pass: no code was sent.
    assert body["second_factor"] == ("not_required" if role in (HOLDER_A, HOLDER_B, EMPLOYER) else "required")


def send_factor_state(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    return c.get("/api/v1/session/second-factor")


def check_factor_state(w: World, role: str, res: httpx.Response, diff: dict[str, Change]) -> None:
    assert res.json() == {"username": USERNAME[role], "enrolled": True, "passed": True}


def send_pass_factor(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    """Staff pass the second factor in a new session signed in with the password only (the shared one
    stays as it is); holders and the public try it with their own session."""
    if role in (ANON, HOLDER_A, HOLDER_B, EMPLOYER):
        return c.post("/api/v1/session/second-factor", json={"code": "123456"}, headers=_headers(csrf))
    own = w.client()
    token = own.post("/api/v1/session", json={"username": USERNAME[role], "password": PASSWORD}).json()["csrf_token"]
    code = fresh_code(w.core, USERNAME[role])
    return own.post("/api/v1/session/second-factor", json={"code": code}, headers=_headers(token))


def check_pass_factor(w: World, role: str, res: httpx.Response, diff: dict[str, Change]) -> None:
    body = res.json()
    assert (body["second_factor"], body["method"], body["username"]) == ("passed", "totp", USERNAME[role])


def send_sign_out(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    """Signing out ends the caller's own session only: a new session is used, not the shared one."""
    if role == ANON:
        return c.delete("/api/v1/session")
    own, token = w.sign_in(role)
    res = own.delete("/api/v1/session", headers=_headers(token))
    own.cookies.clear()
    return res


def check_sign_out(w: World, role: str, res: httpx.Response, diff: dict[str, Change]) -> None:
    assert res.json() == {"signed_out": True}
    if role in (HOLDER_A, HOLDER_B):
        c, _ = w.session(role)
        assert c.get("/api/v1/me").status_code == 200, "another session of the same user is untouched"


# --- holder


def send_me(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    """Naming A's registration in the query changes nothing: it comes from the session (R-ACC-1)."""
    return c.get("/api/v1/me", params={"registration_no": w.cast.a, "reg_no": w.cast.a})


def check_me(w: World, role: str, res: httpx.Response, diff: dict[str, Change]) -> None:
    body = res.json()
    assert body["registration_no"] == w.own(role)
    assert body["id_number"] != w.id_numbers[w.own(role)] and "*" in body["id_number"]
    assert body["window"] is not None
    if role == HOLDER_B:
        _only_own(w, role, res)


def send_my_certificates(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    return c.get("/api/v1/me/certificates")


def _serials_of(w: World, reg_no: str) -> set[str]:
    with w.engine.connect() as conn:
        return set(
            conn.execute(select(certificates.c.serial).where(certificates.c.registration_no == reg_no)).scalars()
        )


def check_my_certificates(w: World, role: str, res: httpx.Response, diff: dict[str, Change]) -> None:
    listed = {c["serial"] for c in res.json()["certificates"]}
    assert listed == _serials_of(w, w.own(role))
    if role == HOLDER_A:
        assert w.cert.serial in listed
    else:
        assert w.cert.serial not in listed and not listed & _serials_of(w, w.cast.a)


def send_download(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    return c.post("/api/v1/me/certificates", json=_window_body(w, _acting_on(w, role)), headers=_headers(csrf))


def check_download(w: World, role: str, res: httpx.Response, diff: dict[str, Change]) -> None:
    assert res.headers["content-type"] == "application/pdf" and res.content.startswith(b"%PDF")
    assert set(diff) == {"certificates"} and not diff["certificates"].removed
    (row,) = diff["certificates"].added
    assert row["serial"] == res.headers["x-ecert-serial"]
    assert row["registration_no"] == w.own(role) and row["confirmed_by"] == f"holder:{USERNAME[role]}"


def send_my_applications(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    return c.get("/api/v1/me/applications")


def check_my_applications(w: World, role: str, res: httpx.Response, diff: dict[str, Change]) -> None:
    listed = {a["application_id"] for a in res.json()["applications"]}
    with w.engine.connect() as conn:
        own = set(
            conn.execute(
                select(renewal_applications.c.id).where(renewal_applications.c.registration_id == w.ids[w.own(role)])
            ).scalars()
        )
    assert listed == own
    assert (w.application_id in listed) == (role == HOLDER_A)
    if role == HOLDER_B:
        _only_own(w, role, res)


def send_apply(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    return c.post("/api/v1/me/applications", json=_renewal_body(w, role), headers=_headers(csrf))


def check_apply(w: World, role: str, res: httpx.Response, diff: dict[str, Change]) -> None:
    body = res.json()
    assert body["status"] == "pending"
    assert owners(diff) == {w.ids[w.own(role)]}, "an application is filed for the caller's own registration"
    (app_row,) = diff["renewal_applications"].added
    assert app_row["id"] == body["application_id"] and app_row["applied_by"] == f"holder:{USERNAME[role]}"


# --- authority


def send_pending(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    """A reviewer asking for another province gets their own anyway (R-REN-6)."""
    params = {"province": "浙"} if role == REVIEWER_BJ else {}
    return c.get("/api/v1/review/applications", params=params)


def check_pending(w: World, role: str, res: httpx.Response, diff: dict[str, Change]) -> None:
    listed = res.json()["applications"]
    assert (w.application_id in [a["application_id"] for a in listed]) == (role != REVIEWER_BJ)
    if role == REVIEWER_BJ:
        assert w.cast.a not in res.text and w.names[w.cast.a] not in res.text
        assert all(a["registration_no"].startswith("京") for a in listed)


def send_decide(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    url = f"/api/v1/review/applications/{w.application_id}/decision"
    return c.post(url, json={"approve": True}, headers=_headers(csrf))


def check_decide(w: World, role: str, res: httpx.Response, diff: dict[str, Change]) -> None:
    assert res.json()["status"] == "approved"
    assert owners(diff) == {w.ids[w.cast.a]}
    (decided,) = diff["renewal_applications"].added
    assert (decided["id"], decided["status"], decided["decided_by"]) == (w.application_id, "approved", USERNAME[role])


def send_search(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    return c.get("/api/v1/registry", params={"q": w.cast.a})


def check_search(w: World, role: str, res: httpx.Response, diff: dict[str, Change]) -> None:
    assert [h["registration_no"] for h in res.json()["holders"]] == [w.cast.a]


def send_holder(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    return c.get(f"/api/v1/registry/{w.cast.a}")


def check_holder(w: World, role: str, res: httpx.Response, diff: dict[str, Change]) -> None:
    body = res.json()
    assert body["registration_no"] == w.cast.a
    assert [a["status"] for a in body["applications"]] == ["pending"]


def send_employer(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    body = {"name": "杭州新建设有限公司", "uscc": NEW_USCC}
    return c.post(f"/api/v1/registry/{w.cast.a}/employer", json=body, headers=_headers(csrf))


def check_employer(w: World, role: str, res: httpx.Response, diff: dict[str, Change]) -> None:
    assert res.json()["changed"] is True
    assert owners(diff) == {w.ids[w.cast.a]}
    (row,) = diff["registrations"].added
    assert (row["employer_name"], row["employer_uscc"]) == ("杭州新建设有限公司", NEW_USCC)


def send_revoke(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    body = {
        "reason": "以欺骗手段取得注册",
        "basis": "《注册建造师管理规定》第三十三条",
        "effective": w.today.isoformat(),
    }
    return c.post(f"/api/v1/registry/{w.cast.a}/revocation", json=body, headers=_headers(csrf))


def send_cancel(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    body = {"reason": "本人申请注销", "effective": w.today.isoformat()}
    return c.post(f"/api/v1/registry/{w.cast.a}/cancellation", json=body, headers=_headers(csrf))


def check_ended(status: str) -> Check:
    """Revocation or cancellation: A's registration, and nothing else, now has ``status``."""

    def check(w: World, role: str, res: httpx.Response, diff: dict[str, Change]) -> None:
        assert res.json()["status"] == status
        assert owners(diff) == {w.ids[w.cast.a]}
        assert [r["status"] for r in diff["registrations"].added] == [status]

    return check


check_revoke = check_ended("revoked")
check_cancel = check_ended("cancelled")


def send_import(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    files = {"file": ("holders.csv", _new_holder_csv(), "text/csv")}
    return c.post("/api/v1/registry/import", files=files, headers=_headers(csrf))


def check_import(w: World, role: str, res: httpx.Response, diff: dict[str, Change]) -> None:
    assert res.json()["imported"] == 1
    assert not owners(diff) & set(w.ids.values()), "A, B and C are untouched"
    assert [r["registration_no"] for r in diff["registrations"].added] == [
        make_registration_no("浙", "33", 2010, 2012, 90_001)
    ]


def send_audit(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    return c.get("/api/v1/audit", params={"limit": 200})


def check_audit(w: World, role: str, res: httpx.Response, diff: dict[str, Change]) -> None:
    assert w.cast.a in {e["subject"] for e in res.json()["events"]}


def send_audit_checkpoint(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    return c.get("/api/v1/audit/checkpoint")


def check_audit_checkpoint(w: World, role: str, res: httpx.Response, diff: dict[str, Change]) -> None:
    assert res.json()["note"].startswith(res.json()["key_id"].rsplit("+", 1)[0] + "\n")  # public: hashes only


def send_audit_consistency(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    return c.get("/api/v1/audit/consistency", params={"first": 1})


def check_audit_consistency(w: World, role: str, res: httpx.Response, diff: dict[str, Change]) -> None:
    assert res.json()["first"] == 1 and all(len(h) == 64 for h in res.json()["proof"])


def send_audit_proof(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    return c.get("/api/v1/audit/proof/1")


def check_audit_proof(w: World, role: str, res: httpx.Response, diff: dict[str, Change]) -> None:
    assert res.json()["event_id"] == 1 and res.json()["leaf_index"] >= 0


# Subscriptions (issue 14): only employer accounts and API clients (neither a role of this matrix;
# tests/integration/entrypoints/web/test_web_subscriptions.py has them) — every role here is refused.
def send_subscribe(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    body = {"serial": w.cert.serial, "url": "https://hooks.invalid/ecert"}  # .invalid: never resolves
    return c.post("/api/v1/subscriptions", json=body, headers=_headers(csrf))


def send_subscriptions(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    return c.get("/api/v1/subscriptions")


def send_unsubscribe(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    return c.delete("/api/v1/subscriptions/0123456789abcdef0123456789abcdef", headers=_headers(csrf))


def send_handshake(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    return c.post("/api/v1/subscriptions/0123456789abcdef0123456789abcdef/verification", headers=_headers(csrf))


def send_deliveries(w: World, role: str, c: TestClient, csrf: str) -> httpx.Response:
    return c.get("/api/v1/subscriptions/0123456789abcdef0123456789abcdef/deliveries")


def check_subscribed(w: World, role: str, res: httpx.Response, diff: dict[str, Change]) -> None:
    """A's employer subscribes to A's certificate: its own, pending (the handshake cannot reach .invalid)."""
    body = res.json()
    assert body["owner"] == f"user:{USERNAME[EMPLOYER]}" and body["serial"] == w.cert.serial
    assert body["status"] == "pending" and body["handshake"]["ok"] is False
    _no_full_id_number(w, res)


def check_own_subscriptions(w: World, role: str, res: httpx.Response, diff: dict[str, Change]) -> None:
    assert res.json()["subscriptions"] == []  # the shared world's employer has none


#                      anonymous holder_a holder_b reviewer_zj reviewer_bj admin employer
PUBLIC = ("200", "200", "200", "200", "200", "200", "200")
HOLDERS = ("401", "200", "200", "403", "403", "403", "403")
STAFF = ("401", "403", "403", "200", "200", "200", "403")
MINISTRY = ("401", "403", "403", "403", "403", "200", "403")
MINISTRY_WRITE = ("401", "403", "403", "403", "403", "200*", "403")
APPLY = ("401", "201*", "201*", "403", "403", "403", "403")  # a holder applies for their own registration only
DECIDE = ("401", "403", "403", "200*", "403p", "200*", "403")  # reviewers decide in their own province only
PROVINCE = ("401", "403", "403", "200", "403p", "200", "403")  # reviewers read their own province only
# Subscriptions (issue 14): employers (and API clients, test_web_subscriptions.py) only; an id that is not the
# caller's is 404 like an unknown one.
SUBSCRIBE = ("401", "403", "403", "403", "403", "403", "201*")
SUBSCRIPTIONS = ("401", "403", "403", "403", "403", "403", "200")
SUBSCRIPTION = ("401", "403", "403", "403", "403", "403", "404")

ROWS = [
    Row("GET", "/api/v1/verify/{token}", PUBLIC, send_verify_token, check_verify_token),
    Row("POST", "/api/v1/verify/pdf", PUBLIC, send_verify_pdf, check_verify_pdf),
    Row("POST", "/api/v1/verify/file", PUBLIC, send_verify_file, check_verify_pdf),
    Row("GET", "/api/v1/attest", PUBLIC, send_attest, check_attest),
    Row("POST", "/api/v1/session", ("401", "200", "200", "200", "200", "200", "200"), send_sign_in, check_sign_in),
    Row("DELETE", "/api/v1/session", PUBLIC, send_sign_out, check_sign_out),
    Row("GET", "/api/v1/session/second-factor", STAFF, send_factor_state, check_factor_state),
    Row("POST", "/api/v1/session/second-factor", STAFF, send_pass_factor, check_pass_factor),
    Row("GET", "/api/v1/me", HOLDERS, send_me, check_me),
    Row("GET", "/api/v1/me/certificates", HOLDERS, send_my_certificates, check_my_certificates),
    Row("POST", "/api/v1/me/certificates", HOLDERS, send_download, check_download, writes=True),
    Row("GET", "/api/v1/me/applications", HOLDERS, send_my_applications, check_my_applications),
    Row("POST", "/api/v1/me/applications", APPLY, send_apply, check_apply, writes=True),
    Row("GET", "/api/v1/review/applications", STAFF, send_pending, check_pending),
    Row(
        "POST", "/api/v1/review/applications/{application_id}/decision", DECIDE, send_decide, check_decide, writes=True
    ),
    Row("GET", "/api/v1/registry", MINISTRY, send_search, check_search),
    Row("GET", "/api/v1/registry/{reg_no}", PROVINCE, send_holder, check_holder),
    Row("POST", "/api/v1/registry/{reg_no}/employer", MINISTRY_WRITE, send_employer, check_employer, writes=True),
    Row("POST", "/api/v1/registry/{reg_no}/revocation", MINISTRY_WRITE, send_revoke, check_revoke, writes=True),
    Row("POST", "/api/v1/registry/{reg_no}/cancellation", MINISTRY_WRITE, send_cancel, check_cancel, writes=True),
    Row("POST", "/api/v1/registry/import", MINISTRY_WRITE, send_import, check_import, writes=True),
    Row("GET", "/api/v1/audit", MINISTRY, send_audit, check_audit),
    Row("POST", "/api/v1/subscriptions", SUBSCRIBE, send_subscribe, check_subscribed),
    Row("GET", "/api/v1/subscriptions", SUBSCRIPTIONS, send_subscriptions, check_own_subscriptions),
    Row("DELETE", "/api/v1/subscriptions/{subscription_id}", SUBSCRIPTION, send_unsubscribe, check_subscribed),
    Row("POST", "/api/v1/subscriptions/{subscription_id}/verification", SUBSCRIPTION, send_handshake, check_subscribed),
    Row("GET", "/api/v1/subscriptions/{subscription_id}/deliveries", SUBSCRIPTION, send_deliveries, check_subscribed),
    Row("GET", "/api/v1/audit/checkpoint", PUBLIC, send_audit_checkpoint, check_audit_checkpoint),
    Row("GET", "/api/v1/audit/consistency", PUBLIC, send_audit_consistency, check_audit_consistency),
    Row("GET", "/api/v1/audit/proof/{event_id}", MINISTRY, send_audit_proof, check_audit_proof),
]
CELLS = [pytest.param(row, role, id=f"{row.method} {row.path} as {role}") for row in ROWS for role in ROLES]


def test_matrix_covers_every_api_operation__R_ACC_1(world: World) -> None:
    """A new ``/api/v1`` operation fails here until it has a row: every role decided."""
    documented = {
        (method.upper(), path)
        for path, ops in world.app.openapi()["paths"].items()
        if path.startswith("/api/v1")
        for method in ops
        if method in ("get", "post", "put", "patch", "delete")
    }
    rows = [(r.method, r.path) for r in ROWS]
    assert len(rows) == len(set(rows)), "a row twice"
    assert set(rows) == documented
    for r in ROWS:
        assert len(r.expect) == len(ROLES) and all(
            o in ("200", "201", "200*", "201*", "401", "403", "403p", "404") for o in r.expect
        ), r.path
        assert r.outcome(ANON) in ("401", "200"), "anonymous callers are refused with 401, never 403"


@pytest.mark.parametrize(("row", "role"), CELLS)
def test_authorization_matrix__R_ACC_1_R_REN_6(row: Row, role: str, world: World, make_world: Any) -> None:
    outcome = row.outcome(role)
    if outcome.endswith("*"):
        # A holder applying again for A's pending specialty would be a rule refusal: A's own world has none.
        w = make_world(applied=not (row.path == "/api/v1/me/applications" and role == HOLDER_A))
    else:
        w = world
    client, csrf = w.session(role)
    pending_before = _application_status(w)
    before = snapshot(w.engine)
    res = row.send(w, role, client, csrf)
    diff = changes(before, snapshot(w.engine))
    status = int(outcome.rstrip("*p"))
    assert res.status_code == status, (res.status_code, res.text[:500])
    if status >= 400:
        error = res.json()["error"]
        if status == 401:
            assert error["code"] == "unauthenticated"
        elif status == 404:
            assert error["code"] == "not_found"
        else:
            assert (error["code"], error["rule"]) == ("forbidden", "R-REN-6" if outcome == "403p" else "R-ACC-1")
        assert diff == {}, f"a refused call changed {sorted(diff)}"
        assert _application_status(w) == pending_before
        return
    row.check(w, role, res, diff)
    if not row.writes:
        assert diff == {}, f"a reading call changed {sorted(diff)}"


def _application_status(w: World) -> str | None:
    if w.application_id is None:
        return None
    with w.engine.connect() as conn:
        return conn.execute(
            select(renewal_applications.c.status).where(renewal_applications.c.id == w.application_id)
        ).scalar_one_or_none()


# ---------------------------------------------------------------------------------------------- pages

#                      anonymous holder_a holder_b reviewer_zj reviewer_bj admin employer
PAGE_HOLDER = ("303", "200", "200", "403", "403", "403", "403")
PAGE_STAFF = ("303", "403", "403", "200", "200", "200", "403")
PAGE_MINISTRY = ("303", "403", "403", "403", "403", "200", "403")
PAGE_EMPLOYER = ("303", "403", "403", "403", "403", "403", "200")
PAGES: list[tuple[str, tuple[str, ...]]] = [
    ("/me", PAGE_HOLDER),
    ("/me/renewal", PAGE_HOLDER),
    ("/me/applications", PAGE_HOLDER),
    ("/review", PAGE_STAFF),
    ("/review?decided={app}", PAGE_STAFF),
    ("/admin", PAGE_MINISTRY),
    ("/admin?q={a}", PAGE_MINISTRY),
    ("/admin/holders/{a}", PAGE_MINISTRY),
    ("/admin/import", PAGE_MINISTRY),
    ("/admin/audit", PAGE_MINISTRY),
    ("/roster", PAGE_EMPLOYER),
    ("/admin/subscriptions", PAGE_MINISTRY),
    ("/subscriptions", PAGE_EMPLOYER),
]
PAGE_CELLS = [
    pytest.param(path, expect[ROLES.index(role)], role, id=f"GET {path} as {role}")
    for path, expect in PAGES
    for role in ROLES
]


@pytest.mark.parametrize(("path", "outcome", "role"), PAGE_CELLS)
def test_pages_authorization__R_ACC_1_R_REN_6(path: str, outcome: str, role: str, world: World) -> None:
    """Anonymous: to the sign-in page and back; a wrong role: 403; a right one sees only its scope."""
    w = world
    url = path.format(a=w.cast.a, app=w.application_id)
    client, _ = w.session(role)
    before = snapshot(w.engine)
    res = client.get(url)
    assert res.status_code == int(outcome), (res.status_code, res.text[:300])
    assert changes(before, snapshot(w.engine)) == {}
    if outcome == "303":
        assert unquote(res.headers["location"]) == f"/login?next={url.split('?')[0]}"
        return
    assert res.headers["content-type"].startswith("text/html")
    if outcome == "403":
        assert w.cast.a not in res.text and w.names[w.cast.a] not in res.text
        return
    a_shown = w.cast.a in res.text
    if role in (HOLDER_A, HOLDER_B):
        _only_own(w, role, res)
        if path == "/me":
            assert w.own(role) in res.text
    elif role == REVIEWER_BJ:
        assert not a_shown and w.names[w.cast.a] not in res.text, "another province's holder (R-REN-6)"
    elif role == EMPLOYER:
        assert not a_shown and w.names[w.cast.a] not in res.text, "an employer sees its roster reports only"
    elif path.startswith("/review"):
        assert a_shown and f'id="app-{w.application_id}"' in res.text
    elif path in ("/admin?q={a}", "/admin/holders/{a}"):
        assert a_shown


# ---------------------------------------------------------------------------------------------- forms

#                      anonymous holder_a holder_b reviewer_zj reviewer_bj admin employer
FORMS: list[tuple[str, tuple[str, ...], Callable[[World], dict[str, str]]]] = [
    ("/me/download", ("303", "-", "-", "403", "403", "403", "403"), lambda w: {"confirm": "1", **_form_window(w)}),
    (
        "/me/renewal",
        ("303", "-", "-", "403", "403", "403", "403"),
        lambda w: {"specialty": w.cast.a_specialty, "commit_ce": "1"},
    ),
    ("/review/{app}", ("303", "403", "403", "-", "403", "-", "403"), lambda w: {"decision": "approve"}),
    (
        "/admin/holders/{a}/employer",
        ("303", "403", "403", "403", "403", "-", "403"),
        lambda w: {"name": "杭州新建设有限公司", "uscc": NEW_USCC},
    ),
    (
        "/admin/holders/{a}/revocation",
        ("303", "403", "403", "403", "403", "-", "403"),
        lambda w: {"reason": "以欺骗手段取得注册", "basis": "第三十三条", "effective": w.today.isoformat()},
    ),
    (
        "/admin/holders/{a}/cancellation",
        ("303", "403", "403", "403", "403", "-", "403"),
        lambda w: {"reason": "本人申请注销", "effective": w.today.isoformat()},
    ),
    ("/roster", ("303", "403", "403", "403", "403", "403", "-"), lambda w: {"date": w.today.isoformat()}),
]
FORM_CELLS = [
    pytest.param(path, expect[ROLES.index(role)], role, form, id=f"POST {path} as {role}")
    for path, expect, form in FORMS
    for role in ROLES
    if expect[ROLES.index(role)] != "-"  # allowed form posts: test_web_holder.py, test_web_authority.py
]


def _form_window(w: World) -> dict[str, str]:
    body = _window_body(w, w.cast.a)
    return {"usage_from": body["usage_from"], "usage_until": body["usage_until"]}


@pytest.mark.parametrize(("path", "outcome", "role", "form"), FORM_CELLS)
def test_form_posts_are_refused_to_wrong_roles__R_ACC_1_R_REN_6(
    path: str, outcome: str, role: str, form: Callable[[World], dict[str, str]], world: World
) -> None:
    """The pages' forms, with the session's CSRF token and a body that would succeed for A (or an admin)."""
    w = world
    url = path.format(a=w.cast.a, app=w.application_id)
    client, csrf = w.session(role)
    before = snapshot(w.engine)
    res = client.post(url, data={**form(w), "csrf": csrf})
    assert res.status_code == int(outcome), (res.status_code, res.text[:300])
    if outcome == "303":
        assert unquote(res.headers["location"]) == f"/login?next={url}"
    assert changes(before, snapshot(w.engine)) == {}
    assert _application_status(w) == "pending"


# ---------------------------------------------------------------------------------------------- holder B


def test_holder_b_never_gets_holder_a_data_from_any_endpoint__R_ACC_1(world: World) -> None:
    """Every API operation B can call, and every id of A's B could put in a path: nothing of A's comes back
    except what the public QR check shows (A's name and registration number, the ID number masked)."""
    w = world
    b, csrf = w.session(HOLDER_B)
    a_full_id = w.id_numbers[w.cast.a]
    for row in ROWS:
        if row.path == "/api/v1/session" or row.outcome(HOLDER_B).endswith("*"):
            continue  # signing in and out: no holder data; B's own application: the matrix, in its own world
        res = row.send(w, HOLDER_B, b, csrf)
        assert a_full_id not in res.text, row.path
        if row.path.startswith(("/api/v1/verify", "/api/v1/attest")):
            continue  # the public view of A's own certificate: checked masked above and in the matrix
        assert w.cast.a not in res.text and w.names[w.cast.a] not in res.text, row.path
    for url in (
        f"/api/v1/registry/{w.cast.a}",
        f"/api/v1/registry/{quote(w.cast.a)}",
        f"/api/v1/registry/{w.cast.a.lower()}",
        f"/api/v1/registry/%20{w.cast.a}%20",
        "/api/v1/registry?q=浙",
        f"/api/v1/review/applications?registration_no={w.cast.a}",
    ):
        res = b.get(url)
        assert res.status_code == 403 and res.json()["error"]["code"] == "forbidden", url
    assert b.get("/api/v1/me").json()["registration_no"] == w.cast.b
    assert _application_status(w) == "pending"


def test_unknown_and_foreign_ids_get_the_same_refusal_for_holders_and_the_public__R_ACC_1_R_REN_6(
    world: World,
) -> None:
    """No existence oracle for callers outside the authority: A's ids and unknown ids answer alike.
    A reviewer of another province gets 403 for A's and 404 for an unknown id (accepted: staff only, and
    the province is the first character of a registration number anyway)."""
    w = world
    missing_reg = "浙0000000000000000"
    missing_app = 999_999
    pairs = [
        (f"/api/v1/registry/{w.cast.a}", f"/api/v1/registry/{missing_reg}", "get"),
        (
            f"/api/v1/review/applications/{w.application_id}/decision",
            f"/api/v1/review/applications/{missing_app}/decision",
            "post",
        ),
        (f"/api/v1/registry/{w.cast.a}/employer", f"/api/v1/registry/{missing_reg}/employer", "post"),
    ]
    for role in (ANON, HOLDER_A, HOLDER_B):
        c, csrf = w.session(role)
        for a_url, missing_url, method in pairs:
            answers = []
            for url in (a_url, missing_url):
                body = {"approve": True} if "decision" in url else {"name": "杭州新建设有限公司", "uscc": NEW_USCC}
                res = c.get(url) if method == "get" else c.post(url, json=body, headers=_headers(csrf))
                answers.append((res.status_code, res.json()))
            assert answers[0] == answers[1], (role, a_url)
            assert answers[0][0] == (401 if role == ANON else 403)
    bj, csrf = w.session(REVIEWER_BJ)
    assert bj.get(f"/api/v1/registry/{w.cast.a}").status_code == 403
    assert bj.get(f"/api/v1/registry/{missing_reg}").status_code == 404
    assert bj.get(f"/api/v1/registry/{w.cast.c}").status_code == 200  # their own province
    decide = "/api/v1/review/applications/{}/decision"
    assert bj.post(decide.format(w.application_id), json={"approve": True}, headers=_headers(csrf)).status_code == 403
    assert bj.post(decide.format(missing_app), json={"approve": True}, headers=_headers(csrf)).status_code == 404
    assert _application_status(w) == "pending"
