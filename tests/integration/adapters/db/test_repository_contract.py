"""One contract for each repository, run against the SQL ones (SQLite, PostgreSQL) and the in-memory
fakes the use-case unit tests rely on (tests/fakes.py): if a fake drifts from what the database
does, this fails (one contract test suite run against both the fake and the SQL repository)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from ecert.adapters.db.engine import make_engine, upgrade
from ecert.adapters.db.registry import Change, HolderImage
from ecert.adapters.db.renewals import RenewalDecision, RenewalRequest
from ecert.adapters.db.tables import holder_images, registrations, specialty_registrations
from ecert.adapters.db.unit_of_work import SqlUnitOfWork
from ecert.domain.certificate import CertificateRecord
from ecert.domain.errors import RuleRefusal
from ecert.domain.model import (
    ApplicationStatus,
    Employer,
    LapseReason,
    Registration,
    RegistrationStatus,
    SpecialtyState,
    StatusRecord,
    Supersession,
    SupersessionCause,
)
from ecert.services.unit_of_work import AbstractUnitOfWork
from ecert.testing import pg_schema
from fakes import OTHER_USCC, USCC, FakeUnitOfWork, at, holder, utc

DAY = date(2021, 7, 1)
NOW = at(DAY)


class Repos:
    """A unit of work of one kind and a way to seed registrations into it."""

    def __init__(self, kind: str, engine: Engine | None) -> None:
        self.kind, self.engine = kind, engine
        self.uow: AbstractUnitOfWork = FakeUnitOfWork() if engine is None else SqlUnitOfWork(engine)

    def seed(self, *regs: Registration, email: str | None = None) -> None:
        if isinstance(self.uow, FakeUnitOfWork):
            for reg in regs:
                self.uow.db.add_registration(reg, email=email)
            return
        assert self.engine is not None
        with self.engine.begin() as conn:
            for reg in regs:
                p, e = reg.person, reg.employer
                row = {
                    "registration_no": reg.registration_no,
                    "province_code": reg.province_code,
                    "name": p.name,
                    "gender": p.gender.value,
                    "birth_date": p.birth_date,
                    "id_number": p.id_number,
                    "employer_name": e.name,
                    "employer_uscc": e.uscc,
                    "status": reg.status.value,
                    "data_version": reg.data_version,
                    "email": email,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                reg_id = conn.execute(insert(registrations).values(**row).returning(registrations.c.id)).scalar_one()
                for s in reg.specialties:
                    spec = {"specialty": s.specialty, "valid_until": s.valid_until, "state": s.stored_state.value}
                    conn.execute(insert(specialty_registrations).values(registration_id=reg_id, **spec))
                if reg.has_signature:
                    image = {"content_type": "image/png", "data": b"\x89PNG fake signature", "sha256": "0" * 64}
                    conn.execute(
                        insert(holder_images).values(registration_id=reg_id, kind="signature", updated_at=NOW, **image)
                    )


BACKENDS = ["fake", "sqlite"] + (["postgresql"] if os.environ.get("ECERT_TEST_DATABASE_URL") else [])


@pytest.fixture(params=BACKENDS)
def repos(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Repos]:
    """The fake, and the SQL repositories on a fresh SQLite file or PostgreSQL schema (as tests/conftest.py)."""
    if request.param == "fake":
        yield Repos("fake", None)
        return
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'ecert.db'}"
        else:
            url = stack.enter_context(pg_schema(os.environ["ECERT_TEST_DATABASE_URL"]))
        engine = make_engine(url)
        stack.callback(engine.dispose)
        upgrade(engine)
        yield Repos(request.param, engine)


def test_supersede_stores_the_new_data_and_records_the_cause__R_CHG_1(repos: Repos) -> None:
    reg = holder(data_version=2)
    repos.seed(reg)
    uow = repos.uow
    with uow:
        change = Change(SupersessionCause.EMPLOYER_CHANGE, NOW, "clerk")
        version = uow.registry.supersede(reg.registration_no, change, employer=Employer("新公司", OTHER_USCC))
        uow.commit()
    assert version == 3
    with uow:
        got = uow.registry.get(reg.registration_no)
        history = uow.registry.supersessions(reg.registration_no)
    assert got is not None and (got.employer, got.data_version) == (Employer("新公司", OTHER_USCC), 3)
    assert history == [Supersession(reg.registration_no, 2, 3, utc(DAY), SupersessionCause.EMPLOYER_CHANGE, "clerk")]


def test_nothing_is_kept_without_commit(repos: Repos) -> None:
    reg = holder()
    repos.seed(reg)
    uow = repos.uow
    with uow:
        uow.registry.supersede(reg.registration_no, Change(SupersessionCause.PERSONAL_CHANGE, NOW, "x"))
        uow.audit.append(at=NOW, actor="x", action="test", subject=None, payload={})
    with uow:
        got = uow.registry.get(reg.registration_no)
        assert got is not None and got.data_version == 1
        assert uow.registry.supersessions(reg.registration_no) == []


def test_end_only_from_active__R_LAPSE_1(repos: Repos) -> None:
    reg = holder()
    repos.seed(reg)
    uow = repos.uow
    with uow:
        ended: dict[str, Any] = dict(reason="r", basis="b", effective=date(2021, 6, 30))
        revoked, cancelled = (
            StatusRecord(RegistrationStatus.REVOKED, **ended),
            StatusRecord(RegistrationStatus.CANCELLED, **ended),
        )
        assert uow.registry.end(reg.registration_no, revoked, at=NOW, actor="m") == 2
        assert uow.registry.end(reg.registration_no, cancelled, at=NOW, actor="m") is None
        assert uow.registry.status_record(reg.registration_no) == StatusRecord(
            RegistrationStatus.REVOKED, "r", "b", date(2021, 6, 30)
        )
        assert [s.cause for s in uow.registry.supersessions(reg.registration_no)] == [SupersessionCause.REVOCATION]
        assert uow.registry.status_record("浙00000") is None


def test_rename_employer_supersedes_only_what_changes(repos: Repos) -> None:
    a, b = holder(1), holder(2, employer=Employer("新名", USCC))
    c = holder(3, employer=Employer("别家", OTHER_USCC))
    repos.seed(a, b, c)
    uow = repos.uow
    with uow:
        assert uow.registry.employer_names(USCC) == {"某某建设集团有限公司", "新名"}
        assert uow.registry.rename_employer(USCC, "新名", at=NOW, actor="m") == [a.registration_no]
        assert uow.registry.employer_names(USCC) == {"新名"}
        assert uow.registry.employer_names("none") == set()
        assert [s.cause for s in uow.registry.supersessions(a.registration_no)] == [SupersessionCause.EMPLOYER_RENAME]
        assert uow.registry.supersessions(b.registration_no) == uow.registry.supersessions(c.registration_no) == []


def test_active_registration_of_an_id_number(repos: Repos) -> None:
    a, b = holder(1), holder(2)
    revoked = replace(holder(3), person=a.person, status=RegistrationStatus.REVOKED)
    repos.seed(a, b, revoked)
    with repos.uow as uow:
        assert uow.registry.active_registration_of(a.person.id_number, besides=b.registration_no) == a.registration_no
        assert uow.registry.active_registration_of(a.person.id_number, besides=a.registration_no) is None


def test_specialties_renew_and_lapse(repos: Repos) -> None:
    reg = holder(specialties=("建筑工程", "机电工程", "公路工程"))
    repos.seed(reg)
    with repos.uow as uow:
        uow.registry.lapse_specialties(reg.registration_no, ["建筑工程", "机电工程"], LapseReason.REJECTED, DAY)
        uow.registry.renew_specialties(reg.registration_no, ["机电工程"], date(2024, 6, 30))
        uow.registry.lapse_specialties(reg.registration_no, ["建筑工程"], LapseReason.NO_RENEWAL, DAY)  # lapsed already
        got = uow.registry.get(reg.registration_no)
    assert got is not None
    states = {s.specialty: (s.valid_until, s.stored_state, s.lapse_reason) for s in got.specialties}
    assert states == {
        "建筑工程": (date(2021, 7, 10), SpecialtyState.LAPSED, LapseReason.REJECTED),
        "机电工程": (date(2024, 6, 30), SpecialtyState.VALID, None),
        "公路工程": (date(2021, 7, 10), SpecialtyState.VALID, None),
    }


def test_put_image_supersedes_only_a_new_image(repos: Repos) -> None:
    reg = holder()
    repos.seed(reg)
    with repos.uow as uow:
        signed, imported = Change(SupersessionCause.SIGNATURE, NOW, "h"), Change(SupersessionCause.IMPORT, NOW, "i")
        no = reg.registration_no
        assert not uow.registry.put_image(no, HolderImage("signature", "image/png", b"x", "0" * 64), signed)
        assert uow.registry.put_image(no, HolderImage("signature", "image/png", b"y", "1" * 64), signed)
        assert uow.registry.put_image(no, HolderImage("photo", "image/png", b"z", "2" * 64), imported)
        assert uow.registry.put_image(
            no, HolderImage("photo", "image/png", b"w", "3" * 64), imported, bump_version=False
        )
        history = [(s.cause, s.actor, s.to_version) for s in uow.registry.supersessions(reg.registration_no)]
        images = uow.certificates.images(reg.registration_no)
    assert history == [(SupersessionCause.SIGNATURE, "h", 2), (SupersessionCause.IMPORT, "i", 3)]
    assert images == {"signature": b"y", "photo": b"w"}


def test_registration_with_images_is_the_registration_and_its_images_in_one_read(repos: Repos) -> None:
    """Issue 15 (one read per download): the same registration as ``get`` and the same images as
    ``certificates.images``, for several specialties (the images once, not once per specialty row), for
    none, and for a registration without images; None for an unknown number."""
    three = holder(1, specialties=("建筑工程", "公路工程", "机电工程"))
    bare = replace(holder(2, specialties=()), has_signature=False)
    repos.seed(three, bare)
    change = Change(SupersessionCause.SIGNATURE, NOW, "h")
    with repos.uow as uow:
        uow.registry.put_image(
            three.registration_no, HolderImage("photo", "image/jpeg", b"\xff\xd8 photo", "2" * 64), change
        )
        uow.commit()
    with repos.uow as uow:
        for reg in (three, bare):
            found = uow.registry.get_with_images(reg.registration_no)
            assert found is not None
            assert found[0] == uow.registry.get(reg.registration_no)
            assert found[1] == uow.certificates.images(reg.registration_no)
        assert found[1] == {}
        assert uow.registry.get_with_images(three.registration_no)[1] == {  # type: ignore[index]
            "signature": b"\x89PNG fake signature",
            "photo": b"\xff\xd8 photo",
        }
        assert [s.specialty for s in found[0].specialties] == []
        assert uow.registry.get_with_images("浙133201020129999999") is None


def test_renewal_applications_one_pending_per_specialty__R_REN_1_R_REN_6(repos: Repos) -> None:
    reg = holder(specialties=("建筑工程", "机电工程"))
    repos.seed(reg)
    uow = repos.uow
    applied = RenewalRequest(applied_on=DAY, ce_hours=120, committed=True, applied_by="h")
    with uow:
        app_id = uow.renewals.add(reg.registration_no, {"机电工程": date(2021, 7, 10)}, applied, NOW)
        uow.commit()
    with uow:
        with pytest.raises(RuleRefusal) as refused:
            uow.renewals.add(
                reg.registration_no, {"建筑工程": date(2021, 7, 10), "机电工程": date(2021, 7, 10)}, applied, NOW
            )
        assert refused.value.code == "application_pending"
    with uow:
        got = uow.renewals.get(app_id)
        assert got is not None and (got.registration_no, got.province_code, got.status) == (
            reg.registration_no,
            "33",
            ApplicationStatus.PENDING,
        )
        pending = uow.registry.get(reg.registration_no)
        assert pending is not None
        assert {s.specialty: s.pending_application for s in pending.specialties} == {
            "建筑工程": False,
            "机电工程": True,
        }
        assert uow.renewals.get(app_id + 1000) is None
        decided: dict[str, Any] = dict(decided_by="r", reason=None, new_valid_until=date(2024, 6, 30))
        assert uow.renewals.decide(app_id, RenewalDecision(ApplicationStatus.APPROVED, **decided), NOW) == ["机电工程"]
        assert uow.renewals.decide(app_id, RenewalDecision(ApplicationStatus.REJECTED, **decided), NOW) is None
        after = uow.renewals.get(app_id)
        assert after is not None and after.status is ApplicationStatus.APPROVED
        again = uow.registry.get(reg.registration_no)
        assert again is not None and not any(s.pending_application for s in again.specialties)


def test_sweep_lapses_what_is_due__R_LAPSE_1(repos: Repos) -> None:
    old = holder(1, birth=date(1956, 6, 1))  # 65 on 2021-06-01
    ended, held = holder(2, valid_until=date(2021, 7, 5)), holder(3, valid_until=date(2021, 7, 5))
    repos.seed(old, ended, held)
    with repos.uow as uow:
        applied = RenewalRequest(applied_on=DAY, ce_hours=None, committed=True, applied_by="h")
        uow.renewals.add(held.registration_no, {"建筑工程": date(2021, 7, 5)}, applied, NOW)
        counts = uow.registry.sweep(today=date(2021, 7, 6), age_birth_cutoff=date(1956, 7, 5), lapse_start=DAY)
        states = {}
        for reg in (old, ended, held):
            got = uow.registry.get(reg.registration_no)
            assert got is not None
            states[reg.registration_no] = (got.specialties[0].stored_state, got.specialties[0].lapse_reason)
    assert counts == (1, 1, 3)
    assert states == {
        old.registration_no: (SpecialtyState.LAPSED, LapseReason.AGE_LIMIT),
        ended.registration_no: (SpecialtyState.LAPSED, LapseReason.NO_RENEWAL),
        held.registration_no: (SpecialtyState.VALID, None),
    }


def test_reminders_queue_once_and_are_sent_once__R_REN_1(repos: Repos) -> None:
    due, far = holder(1, valid_until=date(2021, 7, 31)), holder(2, valid_until=date(2021, 12, 31))
    ended = holder(3, valid_until=date(2021, 6, 30))  # no renewal window any more
    repos.seed(due, far, ended, email="h@example.cn")
    today = date(2021, 7, 1)
    window = {date(2021, 7, 31): date(2021, 7, 1), date(2021, 12, 31): date(2021, 12, 1), date(2021, 6, 30): DAY}
    born = dict.fromkeys(window, date(1900, 1, 1))
    with repos.uow as uow:
        assert uow.reminders.queue(today=today, last_end=date(2021, 8, 31), opens=window, born_after=born) == (1, 1)
        assert uow.reminders.queue(today=today, last_end=date(2021, 8, 31), opens=window, born_after=born) == (1, 0)
        [item] = uow.reminders.due(today)
        assert (item.registration_no, item.email, item.window_opens, item.attempts) == (
            due.registration_no,
            "h@example.cn",
            date(2021, 7, 1),
            0,
        )
        assert uow.reminders.unsent_count() == 1
        assert uow.reminders.claim(item.id, max_attempts=1)
        assert not uow.reminders.claim(item.id, max_attempts=1)
        uow.reminders.record_failure(item.id, "x" * 2000)
        [listed] = uow.reminders.outbox(pending=True)
        assert (listed.attempts, listed.last_error) == (1, "x" * 1000)
        sent = datetime(2021, 7, 1, 1, 0, tzinfo=UTC)
        uow.reminders.mark_sent(item.id, at=sent, email="h@example.cn")
        assert uow.reminders.outbox(pending=True) == [] and uow.reminders.unsent_count() == 0
        [done] = uow.reminders.outbox()
        assert (done.sent_at, done.last_error) == (sent, None)


def record(serial: str, reg: Registration, key: str, *, version: int = 1) -> CertificateRecord:
    return CertificateRecord(
        serial=serial, registration_no=reg.registration_no, data_version=version, identifier=f"id-{serial}",
        usage_from=DAY, usage_until=date(2021, 12, 27), issue_date=DAY, content_digest="0" * 64, seal_key_id=key,
        qr_kid="k1", confirmed_by="h", confirmed_at=NOW, issued_at=NOW,
    )  # fmt: skip


def test_reseal_plan_lists_current_certificates_under_another_key_and_supersedes_them__R_CHG_1(
    repos: Repos,
) -> None:
    a, b, done = holder(1), holder(2), holder(3)
    repos.seed(a, b, done)
    with repos.uow as uow:
        uow.certificates.add(record("AAAAAAAAAAAAAAAA", a, "old"))
        uow.certificates.add(record("BBBBBBBBBBBBBBBB", b, "old"))
        uow.certificates.add(record("CCCCCCCCCCCCCCCC", done, "new"))
        assert uow.certificates.current_under_key(done.registration_no, 1, "new") == "CCCCCCCCCCCCCCCC"
        assert uow.reseal.plan("p1", key_id="new", today=DAY, at=NOW, actor="jobs") == 2
        assert uow.reseal.plan("p2", key_id="new", today=DAY, at=NOW, actor="jobs") == 0  # superseded: not current
        assert uow.reseal.pending_count() == 2
        assert [s.cause for s in uow.registry.supersessions(a.registration_no)] == [SupersessionCause.RESEAL]
        first = uow.reseal.claim_next()
        assert first is not None and (first.registration_no, first.data_version) == (a.registration_no, 2)
        uow.reseal.done(a.registration_no)
        second = uow.reseal.claim_next()
        assert second is not None and second.registration_no == b.registration_no
        uow.reseal.done(b.registration_no)
        assert uow.reseal.claim_next() is None and uow.reseal.pending_count() == 0
        snap = uow.certificates.snapshot("AAAAAAAAAAAAAAAA")
        assert snap is not None and (snap.record.data_version, snap.registration.data_version) == (1, 2)
        assert uow.certificates.snapshot("ZZZZZZZZZZZZZZZZ") is None
