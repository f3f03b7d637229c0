"""The DEMO registry: synthetic holders through the real import path, plus synthetic signature
images so that certificates can be issued. Clearly demo data — not real people."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from ecert.adapters.db.unit_of_work import SqlUnitOfWork
from ecert.adapters.importing.readers import Table
from ecert.adapters.synthetic_signature import signature_png
from ecert.domain.dates import add_years
from ecert.domain.policy import Policy
from ecert.domain.rules.age import age_limit_date
from ecert.services.registry_import import ImportResult, ProgressFn, import_table
from ecert.services.synthetic import HEADER, generate_rows

DEFAULT_SIGNATURES = 20_000


@dataclass(frozen=True)
class DemoResult:
    imported: ImportResult
    signatures_added: int


def seed_demo(
    make_uow: Callable[[], SqlUnitOfWork],
    holders: int,
    *,
    seed: int,
    today: date,
    now: datetime,
    signatures: int = DEFAULT_SIGNATURES,
    progress: ProgressFn | None = None,
) -> DemoResult:
    rows = enumerate(generate_rows(holders, today=today, seed=seed), start=2)
    table = Table(header=list(HEADER), rows=rows, encoding="synthetic")
    result = import_table(
        make_uow(),
        table,
        base=Path.cwd(),
        source=f"demo:{holders}:{seed}",
        digest="",
        today=today,
        now=now,
        actor="demo",
        progress=progress,
    )
    added = 0
    with make_uow() as uow:
        for i, (reg_no, name) in enumerate(uow.registry.without_signature(signatures)):
            png = signature_png(name, seed=i)
            uow.registry.put_image(
                reg_no, "signature", "image/png", png, hashlib.sha256(png).hexdigest(), now, actor="demo"
            )
            added += 1
        uow.commit()
    return DemoResult(result, added)


DEMO_PASSWORD = "demo-password-2021"  # DEMO accounts only; printed by `ecert demo`


def ensure_demo_accounts(
    make_uow: Callable[[], SqlUnitOfWork], *, today: date, now: datetime, policy: Policy
) -> list[dict[str, str]]:
    """One DEMO account of each role: a holder who can download today (if any), a reviewer of that
    holder's province, a ministry admin. Idempotent: existing accounts are kept."""
    from ecert.domain.errors import EcertError
    from ecert.domain.provinces import abbreviation
    from ecert.services.accounts import add_user
    from ecert.services.issuance import preview

    with make_uow() as uow:
        candidates = uow.registry.sample_numbers(200)
    holder_no: str | None = None
    for no in candidates:
        try:
            preview(make_uow(), no, today=today, policy=policy)
        except EcertError:
            continue
        with make_uow() as uow:
            reg = uow.registry.get(no)
        # A holder well short of 65, so that a renewal in the demo really extends the validity.
        if reg is not None and age_limit_date(reg.person.birth_date, policy) > add_years(today, 4):
            holder_no = no
            break
    holder_no = holder_no or (candidates[0] if candidates else None)
    wanted: list[dict[str, str]] = []
    if holder_no:
        province = abbreviation(provinces_code(holder_no))
        wanted.append({"username": "demo-holder", "role": "holder", "registration_no": holder_no})
        wanted.append({"username": "demo-reviewer", "role": "reviewer", "province": province})
    wanted.append({"username": "demo-admin", "role": "admin"})
    for w in wanted:
        with make_uow() as uow:
            exists = uow.users.get(w["username"]) is not None
        if not exists:
            add_user(
                make_uow(),
                w["username"],
                role=w["role"],
                password=DEMO_PASSWORD,
                registration_no=w.get("registration_no"),
                province=w.get("province"),
                actor="demo",
                now=now,
            )
        w["password"] = DEMO_PASSWORD
    return wanted


def provinces_code(registration_no: str) -> str:
    from ecert.domain.provinces import code_of_abbreviation

    code = code_of_abbreviation(registration_no[0])
    assert code is not None
    return code
