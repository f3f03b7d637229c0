"""The DEMO registry: synthetic holders through the real import path, plus synthetic signature
images so that certificates can be issued. Clearly demo data — not real people."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select

from ecert.adapters.db.tables import holder_images, registrations
from ecert.adapters.importing.readers import Table
from ecert.adapters.synthetic_signature import signature_png
from ecert.services.registry_import import ImportResult, ProgressFn, import_table
from ecert.services.synthetic import HEADER, generate_rows
from ecert.services.unit_of_work import SqlUnitOfWork

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
        conn = uow.connection
        have = select(holder_images.c.registration_id).where(holder_images.c.kind == "signature")
        todo = conn.execute(
            select(registrations.c.registration_no, registrations.c.name)
            .where(registrations.c.id.not_in(have))
            .order_by(registrations.c.id)
            .limit(signatures)
        ).all()
        for i, (reg_no, name) in enumerate(todo):
            png = signature_png(name, seed=i)
            uow.registry.put_image(reg_no, "signature", "image/png", png, hashlib.sha256(png).hexdigest(), now)
            added += 1
        uow.commit()
    return DemoResult(result, added)
