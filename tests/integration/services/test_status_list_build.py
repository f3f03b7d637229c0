"""The status list built from the registry (issue 14 item 2, services/status_list.py) on SQLite and
PostgreSQL: one statement reads every certificate's flag — superseded when its registration's data
changed (R-CHG-1), revoked when the registration is no longer active — and the signed list answers
each serial as the online check would; the newest list is kept and served until it is an hour old."""

from __future__ import annotations

import base64
from datetime import date, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ecert.adapters import status_list as fmt
from ecert.adapters.db.status_lists import FLAGS_SQL
from ecert.adapters.signing.jws import JwsSigner
from ecert.domain.certificate import CertificateRecord
from ecert.domain.ids import make_uscc
from ecert.domain.status_list import CURRENT, REFRESH, REVOKED, SUPERSEDED
from ecert.services import changes, status_list
from ecert.services.demo import seed_demo

TODAY = date(2021, 3, 1)
KEY = Ed25519PrivateKey.generate()
SIGNER = JwsSigner(KEY)


def _record(no: str, version: int, n: int, now: Any) -> CertificateRecord:
    serial = base64.b32encode(n.to_bytes(1, "big") + KEY.public_key().public_bytes_raw()[:9]).decode()
    return CertificateRecord(
        serial=serial, registration_no=no, data_version=version, identifier=f"test.{serial}", usage_from=TODAY,
        usage_until=TODAY + timedelta(days=50), issue_date=TODAY, content_digest="00" * 32, seal_key_id="k",
        qr_kid=SIGNER.kid, confirmed_by="test", confirmed_at=now, issued_at=now,
    )  # fmt: skip


def test_the_list_names_superseded_and_revoked_certificates_on_both_databases__issue_14(make_app: Any) -> None:
    core = make_app(TODAY)
    now = core.clock.now()
    seed_demo(core.uow, 4, seed=2021, today=TODAY, now=now)
    with core.uow() as uow:
        numbers = uow.registry.sample_numbers(3)
        records = [_record(no, uow.registry.get(no).data_version, i, now) for i, no in enumerate(numbers)]
        for r in records:
            uow.certificates.add(r)
        uow.commit()
    changes.change_employer(core.uow(), numbers[1], name="新单位建设有限公司", uscc=make_uscc("330100", "MA0BC1D2E"),
                            actor="test", now=now)  # fmt: skip
    changes.revoke(core.uow(), numbers[2], reason="以欺骗手段取得注册", basis="第三十三条", effective="2021-03-01",
                   actor="test", today=TODAY, now=now)  # fmt: skip

    with core.uow() as uow:  # PostgreSQL's window functions and SQLite's read + sort in memory agree
        listed, covered = uow.status_lists.listed()
        every = uow.connection.execute(FLAGS_SQL).all()
    assert covered == 3
    assert sorted(listed) == fmt.listed_with_neighbours([r[0] for r in every], [r[1] for r in every])
    built = status_list.build(core.uow(), signer=SIGNER, now=now)
    assert (built.listed, built.covered) == (2, 3)
    listed = fmt.verify(built.jws, {SIGNER.kid: KEY.public_key()})
    assert [listed.status_of(r.serial) for r in records] == [CURRENT, SUPERSEDED, REVOKED]

    # The newest is served while it is younger than REFRESH; then (or under another key) a new one is built.
    assert status_list.current(core.uow, signer=SIGNER, now=lambda: now + REFRESH / 2) == built
    later = status_list.current(core.uow, signer=SIGNER, now=lambda: now + REFRESH)
    assert later.issued_at > built.issued_at
    other = JwsSigner(Ed25519PrivateKey.generate())
    assert status_list.current(core.uow, signer=other, now=lambda: now + REFRESH).kid == other.kid
    with core.uow() as uow:
        assert uow.status_lists.latest() == status_list.current(core.uow, signer=other, now=lambda: now + REFRESH)
