"""A synthetic registry for demos and benchmarks: valid ID numbers and credit codes, all ten
specialties, ages spread up to 65, some names with rare characters (𠮷, 䶮, 𪚥). Deterministic by seed.

Rows have the import columns of docs/cli.md and go through the same import path as a real file.
With ``cases=True`` the first holders are the purpose-built DEMO cases (:data:`DEMO_CASES`, made
into their states by services.demo_cases); every other holder is the same as without them.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta

from ecert.domain import ids, provinces
from ecert.domain.dates import add_years
from ecert.domain.model import SPECIALTIES, Gender
from ecert.services.registry_import import REQUIRED_COLUMNS

HEADER: tuple[str, ...] = (*REQUIRED_COLUMNS, "ce_hours")  # the import's columns (docs/cli.md)
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红文斌宇浩凯鹏飞辉云"
    "峰亮成龙海波鑫晨欣怡佳琪子涵雨轩博文梓萱俊杰"
)
# Rare characters real registries contain: Extension B (𠮷 U+20BB7, 𪚥 U+2A6A5), Extension A (䶮 U+4DAE),
# and basic-block characters that are uncommon in names (喆, 堃, 龑).
RARE = ["𠮷", "䶮", "𪚥", "喆", "堃", "龑", "昇", "珺"]
CITIES = ["华建", "中恒", "宏达", "东方", "长城", "新源", "远大", "金石", "鼎盛", "国泰", "正道", "安澜"]
KINDS = ["建设集团有限公司", "建筑工程有限公司", "市政工程有限公司", "交通建设有限公司", "水利水电工程局有限公司"]
# The purpose-built DEMO cases, in this order the first holders of a demo registry with cases.
DEMO_CASES: tuple[str, ...] = ("renewal_pending", "specialty_expired", "revoked", "superseded", "age_65", "rare_name")
CASE_PROVINCE = "浙"  # a pilot province: certificates from 2021-02-01 on; one reviewer sees every case
CASE_EMPLOYER = ("浙江钱塘建设集团有限公司", ids.make_uscc("330102", "MA27QK5R3"))
CASE_RARE_NAME = "张\U00020bb7\u4dae\U0002a6a5"  # 张𠮷䶮𪚥: Extension B, A, B
# Pilot provinces first, so that small demos have holders who can download from 2021-02-01 on.
PILOT = ["浙", "京", "沪", "琼"]
ABBRS = list(provinces.PROVINCES)


def _name(rng: random.Random, i: int) -> str:
    surname = SURNAMES[rng.randrange(len(SURNAMES))]
    if i % 50 == 7:  # about 2% with a rare character
        return surname + RARE[(i // 50) % len(RARE)]
    given = GIVEN[rng.randrange(len(GIVEN))]
    if rng.random() < 0.6:
        given += GIVEN[rng.randrange(len(GIVEN))]
    return surname + given


def case_registration_no(case: str) -> str:
    """The registration number of a DEMO case: the same whatever the seed and the holder count
    (year registered 2005 and the serial encode the holder's index, as for every synthetic holder)."""
    i = DEMO_CASES.index(case)
    return ids.make_registration_no(CASE_PROVINCE, CASE_PROVINCE, 2004, 2005, i)


def case_age_65_date(today: date) -> date:
    """The 65th birthday of the ``age_65`` case: this year if at least two weeks remain, else soon after."""
    return max(today + timedelta(days=14), min(today + timedelta(days=60), date(today.year, 12, 31)))


def _case_rows(case: str, today: date) -> list[list[str]]:
    """The rows of one DEMO case holder, dated relative to ``today``; the same for any seed."""
    i = DEMO_CASES.index(case)
    gender = Gender.FEMALE if i % 3 == 2 else Gender.MALE
    code = provinces.code_of_abbreviation(CASE_PROVINCE)
    assert code is not None
    birth = add_years(today, -45) - timedelta(days=97 * i)  # about 45: far from the age limit
    name = SURNAMES[7 * i] + GIVEN[11 * i] + GIVEN[11 * i + 3]
    d = timedelta
    specialties: list[tuple[str, date]]
    if case == "renewal_pending":  # inside the renewal window of 建筑工程 (R-REN-1)
        specialties = [("建筑工程", today + d(days=20)), ("市政公用工程", today + d(days=700))]
    elif case == "specialty_expired":  # 公路工程 ended 40 days ago (R-REN-2 / R-REN-3)
        specialties = [("公路工程", today - d(days=40)), ("建筑工程", today + d(days=500))]
    elif case == "age_65":  # validity capped at the 65th birthday (R-REN-5)
        birth = add_years(case_age_65_date(today), -65)
        specialties = [("建筑工程", add_years(birth, 65))]
    elif case == "rare_name":
        name = CASE_RARE_NAME
        specialties = [("水利水电工程", today + d(days=900))]
    else:  # revoked, superseded: a valid specialty, a certificate issued before the change
        specialties = [("机电工程", today + d(days=600 + 100 * i))]
    id_number = ids.make_id_number(f"{code}0000", birth, i, gender)
    holder = [case_registration_no(case), name, gender.value, birth.isoformat(), id_number, *CASE_EMPLOYER]
    return [[*holder, s, until.isoformat(), "150"] for s, until in specialties]


def generate_rows(holders: int, *, today: date, seed: int = 2021, cases: bool = False) -> Iterator[list[str]]:
    """Yield import rows (one per specialty) for ``holders`` holders, relative to ``today``; with
    ``cases``, the first ``len(DEMO_CASES)`` holders are the DEMO cases (the rest stay the same)."""
    rng = random.Random(seed)
    n_employers = max(3, holders // 20)
    employers: list[tuple[str, str, str]] = []
    for e in range(n_employers):
        abbr = PILOT[e % 4] if e < 8 else ABBRS[rng.randrange(len(ABBRS))]
        code = provinces.code_of_abbreviation(abbr)
        assert code is not None
        area6 = f"{code}0100"
        org9 = f"{rng.randrange(10**8):08d}" + str(rng.randrange(10))
        uscc = ids.make_uscc(area6, org9)
        name = f"{provinces.name(code)}{CITIES[e % len(CITIES)]}{KINDS[(e // len(CITIES)) % len(KINDS)]}"
        if e >= len(CITIES) * len(KINDS):
            name = f"{provinces.name(code)}{CITIES[e % len(CITIES)]}第{e}{KINDS[e % len(KINDS)]}"
        employers.append((name, uscc, code))
    for i in range(holders):
        abbr = PILOT[i % 4] if i < 40 or rng.random() < 0.3 else ABBRS[rng.randrange(len(ABBRS))]
        code = provinces.code_of_abbreviation(abbr)
        assert code is not None
        emp_name, emp_uscc, emp_code = employers[rng.randrange(n_employers)]
        gender = Gender.MALE if rng.random() < 0.8 else Gender.FEMALE
        # Ages 26 … 65; every 97th holder is within a year of 65 so the age cap shows up.
        age_days = rng.randrange(26 * 365, 64 * 365) if i % 97 else rng.randrange(64 * 365, 65 * 365)
        birth = today - timedelta(days=age_days)
        if i % 1000 == 11:
            birth = date(birth.year - (birth.year % 4), 2, 29)  # leap-day births (R-DATE-2)
            if (today.year - birth.year) >= 65:
                birth = date(birth.year + 4, 2, 29)
        # Area digits and sequence together encode i, so ID numbers are unique up to 1,000,000 holders.
        age65 = add_years(birth, 65)
        id_number = ids.make_id_number(f"{code}{(i // 100) % 10_000:04d}", birth, i % 100, gender)
        year_reg = 2005 + (i // 100_000) % 90
        year_q = max(2004, year_reg - rng.randrange(4))
        reg_no = ids.make_registration_no(abbr, emp_code, year_q, year_reg, i % 100_000)
        name = _name(rng, i)
        ce = str(rng.randrange(60, 200)) if rng.random() < 0.7 else ""
        k = 1 + (rng.random() < 0.35) + (rng.random() < 0.1)
        holder = [reg_no, name, gender.value, birth.isoformat(), id_number, emp_name, emp_uscc]
        rows = []
        for s in rng.sample(SPECIALTIES, k):
            # Validity never runs past the 65th birthday (R-REN-5).
            valid_until = min(today + timedelta(days=rng.randrange(-400, 3 * 365)), age65)
            rows.append([*holder, s, valid_until.isoformat(), ce])
        # A case replaces the holder after the random draws, so that the holders after it do not change.
        yield from _case_rows(DEMO_CASES[i], today) if cases and i < len(DEMO_CASES) else rows
