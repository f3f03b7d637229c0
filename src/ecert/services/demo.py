"""The DEMO registry: synthetic holders through the real import path, plus synthetic signature
images so that certificates can be issued. Clearly demo data — not real people.

With ``cases=True`` the first holders are the purpose-built DEMO cases (services.synthetic
``DEMO_CASES``; services.demo_cases puts them into their states). A case holder already in the
registry is not imported again: what the demo did to it, and what people did with it since, stays."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from ecert.adapters.db.registry import Change, HolderImage
from ecert.adapters.db.unit_of_work import SqlUnitOfWork
from ecert.adapters.importing.readers import Table
from ecert.adapters.synthetic_signature import signature_png
from ecert.domain.dates import add_years
from ecert.domain.model import SupersessionCause
from ecert.domain.policy import Policy
from ecert.domain.rules.age import age_limit_date
from ecert.services.registry_import import ImportResult, ProgressFn, import_table
from ecert.services.synthetic import DEMO_CASES, HEADER, case_registration_no, generate_rows

DEFAULT_SIGNATURES = 20_000
MIN_HOLDERS_FOR_CASES = len(DEMO_CASES) + 4  # the cases and a few ordinary holders beside them


@dataclass(frozen=True)
class DemoResult:
    imported: ImportResult
    signatures_added: int
    cases: dict[str, str] = field(default_factory=dict)  # DEMO case -> registration number


def seed_demo(
    make_uow: Callable[[], SqlUnitOfWork],
    holders: int,
    *,
    seed: int,
    today: date,
    now: datetime,
    signatures: int = DEFAULT_SIGNATURES,
    progress: ProgressFn | None = None,
    cases: bool = False,
) -> DemoResult:
    with_cases = cases and holders >= MIN_HOLDERS_FOR_CASES
    numbers = {c: case_registration_no(c) for c in DEMO_CASES} if cases else {}
    with make_uow() as uow:
        built = uow.registry.existing_numbers(set(numbers.values())) if numbers else set()
    if not with_cases:  # too few holders this time: only the cases an earlier run made
        numbers = {c: no for c, no in numbers.items() if no in built}
    rows = (
        (n, row)
        for n, row in enumerate(generate_rows(holders, today=today, seed=seed, cases=with_cases), start=2)
        if row[0] not in built
    )
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
            image = HolderImage("signature", "image/png", png, hashlib.sha256(png).hexdigest())
            uow.registry.put_image(reg_no, image, Change(SupersessionCause.SIGNATURE, now, "demo"))
            added += 1
        uow.commit()
    return DemoResult(result, added, numbers)


DEMO_PASSWORD = "demo-password-2021"  # DEMO accounts only; printed by `ecert demo`


def ensure_demo_accounts(
    make_uow: Callable[[], SqlUnitOfWork],
    *,
    today: date,
    now: datetime,
    policy: Policy,
    province: str | None = None,
    exclude: Collection[str] = (),
) -> list[dict[str, str]]:
    """One DEMO account of each role: a holder who can download today (if any; one of ``province``
    if one there can, not one of ``exclude``), a reviewer of ``province`` (else of that holder's), a ministry admin.
    Idempotent: existing accounts are kept, and reported as they are. The reviewer and the admin are
    enrolled in the second factor with a secret made for this database (kept by later runs), reported
    as ``totp_secret`` and ``otpauth_uri``."""
    from ecert.domain.errors import EcertError
    from ecert.domain.provinces import abbreviation, normalize_province
    from ecert.services.accounts import add_user
    from ecert.services.issuance import preview
    from ecert.services.second_factor import demo_enrolment, is_staff
    from ecert.services.views.authority import search_registry

    with make_uow() as uow:
        candidates = uow.registry.sample_numbers(200)
    if province:
        local = search_registry(
            make_uow(), province, today=today, policy=policy, province_code=normalize_province(province), per_page=200
        )
        candidates = [x["registration_no"] for x in local.items] + candidates
    candidates = [no for no in candidates if no not in exclude]
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
        wanted.append({"username": "demo-holder", "role": "holder", "registration_no": holder_no})
    # The reviewer reviews ``province`` (the demo cases', with the pending application) even when no
    # ordinary holder there can download today; else the demo holder's province.
    reviewer_province = province or (abbreviation(provinces_code(holder_no)) if holder_no else None)
    if reviewer_province:
        wanted.append({"username": "demo-reviewer", "role": "reviewer", "province": reviewer_province})
    wanted.append({"username": "demo-admin", "role": "admin"})
    for w in wanted:
        with make_uow() as uow:
            user = uow.users.get(w["username"])
        if user is None:
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
        else:  # made by an earlier run: what it really is
            w.pop("registration_no", None)
            w.pop("province", None)
            w["role"] = user.role
            if user.registration_no:
                w["registration_no"] = user.registration_no
            if user.province_code:
                w["province"] = abbreviation(user.province_code)
        w["password"] = DEMO_PASSWORD
        if is_staff(w["role"]):  # pre-enrolled: `ecert demo` prints the secret as a QR code (issue 17)
            enrolment = demo_enrolment(make_uow(), w["username"], now=now, actor="demo")
            w["totp_secret"], w["otpauth_uri"] = enrolment.secret, enrolment.uri
    return wanted


def provinces_code(registration_no: str) -> str:
    from ecert.domain.provinces import code_of_abbreviation

    code = code_of_abbreviation(registration_no[0])
    assert code is not None
    return code
