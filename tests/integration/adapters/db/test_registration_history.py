"""Migration 0012 (issue 13): the versions ended before it are back-filled from the audit events, and the
history then answers for a date with the employer of the day (R-CHG-1)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from alembic import command
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, insert, select

from ecert.adapters.db.audit import GENESIS, NoteKey, canonical, chain_hash
from ecert.adapters.db.audit import check as audit_check
from ecert.adapters.db.audit import sequence as audit_sequence
from ecert.adapters.db.engine import alembic_config, make_engine
from ecert.adapters.db.tables import (
    audit_events,
    audit_leaves,
    registration_versions,
    registrations,
    specialty_registrations,
    supersessions,
)
from ecert.adapters.db.unit_of_work import SqlUnitOfWork
from ecert.config import load_policy
from ecert.domain.ids import make_id_number, make_registration_no, make_uscc
from ecert.domain.model import Gender
from ecert.services.history import registration_on, registrations_on

OLD, NEW = make_uscc("330100", "MA0BC1D2E"), make_uscc("330100", "MA21KJ7Q3")
CHANGED_AT = datetime(2021, 4, 1, 2, 0, tzinfo=UTC)  # 10:00 China time


def _migrate(engine: Engine, target: str) -> None:
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)


def test_backfill_rebuilds_the_employer_before_a_change_and_the_date_answers_with_it__R_CHG_1(db_url: str) -> None:
    eng = make_engine(db_url)
    try:
        _migrate(eng, "0009")
        no = make_registration_no("浙", "33", 2010, 2012, 7)
        birth = date(1980, 5, 7)
        now = datetime(2021, 2, 1, tzinfo=UTC)
        row: dict[str, Any] = dict(
            registration_no=no, province_code="33", name="张伟", gender="男", birth_date=birth,
            id_number=make_id_number("330102", birth, 7, Gender.MALE), employer_name="新公司", employer_uscc=NEW,
            data_version=2, created_at=now, updated_at=CHANGED_AT,
        )  # fmt: skip
        with eng.begin() as conn:
            reg_id = conn.execute(insert(registrations).values(**row).returning(registrations.c.id)).scalar_one()
            conn.execute(
                insert(specialty_registrations).values(
                    registration_id=reg_id, specialty="建筑工程", valid_until=date(2023, 6, 30), state="valid"
                )
            )
            conn.execute(
                insert(supersessions).values(
                    registration_id=reg_id,
                    to_version=2,
                    from_version=1,
                    at=CHANGED_AT,
                    cause="employer_change",
                    actor="t",
                )
            )
            # An event of the old chain (before migration 0014), as revision 0012's code wrote it.
            payload = {
                "before": {"name": "旧公司", "uscc": OLD},
                "after": {"name": "新公司", "uscc": NEW},
                "data_version": 2,
            }
            body = canonical(CHANGED_AT, "t", "registration.change_employer", no, payload)
            conn.execute(
                insert(audit_events).values(
                    at=CHANGED_AT, actor="t", action="registration.change_employer", subject=no,
                    payload=json.dumps(payload, ensure_ascii=False, sort_keys=True), prev_hash=GENESIS,
                    hash=chain_hash(GENESIS, body),
                )
            )  # fmt: skip
        _migrate(eng, "head")
        with eng.connect() as conn:  # migration 0014: the old chain's event is leaf 0 of the Merkle tree
            assert conn.execute(select(audit_leaves.c.leaf_index, audit_leaves.c.event_id)).all() == [(0, 1)]
            found = audit_check(conn, None)
            # … and the registration row's digest is logged (audit.baseline, not yet sequenced)
            assert (found.intact, found.size, found.unsequenced) == (True, 1, 1), found.problems
        key = NoteKey("test/audit", Ed25519PrivateKey.generate())  # the first sequencer run signs those leaves
        assert audit_sequence(eng, key, lambda: CHANGED_AT).size == 2
        with eng.connect() as conn:
            assert audit_check(conn, key).intact
        with eng.connect() as conn:
            rows = conn.execute(select(registration_versions)).all()
        assert [(r.version, r.employer_name, r.employer_uscc, r.source) for r in rows] == [
            (1, "旧公司", OLD, "backfill")
        ]
        uow, policy, asked = SqlUnitOfWork(eng), load_policy(), datetime(2021, 6, 1, tzinfo=UTC)
        before = registration_on(uow, no, date(2021, 3, 31), now=asked, policy=policy)
        after = registration_on(uow, no, date(2021, 4, 1), now=asked, policy=policy)
        assert before is not None and after is not None
        assert (before.employer_name, before.employer_uscc, before.valid_on_date) == ("旧公司", OLD, True)
        assert (after.employer_name, after.employer_uscc) == ("新公司", NEW)
        both = registrations_on(uow, [no, "浙00000000000000000"], date(2021, 3, 31), now=asked, policy=policy)
        assert list(both) == [no]  # unknown numbers are left out
        refused = registration_on(uow, no, date(2021, 6, 2), now=asked, policy=policy)
        assert refused is not None and refused.reason_codes == ("date_in_future",) and not refused.valid_on_date
    finally:
        eng.dispose()
