"""One vocabulary on every page (issue 10 "First impressions"), on SQLite and PostgreSQL.

The same active registration, seen by its holder (``/me``), by the authority (``/admin/holders/…``)
and by anyone scanning its QR code (``/V/…``, the fast path and the routed page), carries the same
words in each language: the registration's status, each specialty's state, and — on the holder's
page and the QR page — the certificate's. English pages have no Chinese left in them but the
registry's own data (names, employer, specialty names, province abbreviation), no full-width
punctuation and no word glued to a parenthesis."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from ecert.domain.messages import term
from ecert.entrypoints.web.app import create_app
from ecert.services import accounts, registry
from ecert.testing import issued_sample, token_of
from helpers_app import demo_app, signed_in

TODAY = date(2021, 3, 1)
PASSWORD = "vocabulary-2021"
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]")
FULL_WIDTH = re.compile(r"[\u3000-\u303f\uff00-\uffef]")


@dataclass
class Pages:
    view: dict[str, Any]  # holder show for the registration
    gender: str
    holder: TestClient
    admin: TestClient
    public: TestClient
    token: str

    def all(self, lang: str) -> dict[str, str]:
        """The three pages as a reader sees them (tags become spaces, spaces collapsed)."""
        reg_no = self.view["registration_no"]
        pages = {
            "holder /me": self.holder.get(f"/me?lang={lang}"),
            "console /admin/holders": self.admin.get(f"/admin/holders/{reg_no}?lang={lang}"),
            "QR page (routed)": self.public.get(f"/V/{self.token}?lang={lang}"),
        }
        fast = TestClient(self.public.app)
        fast.cookies.set("lang", lang)  # no query string, no session: the QR fast path answers
        pages["QR page (fast path)"] = fast.get(f"/V/{self.token}")
        out = {}
        for name, res in pages.items():
            assert res.status_code == 200, (name, res.text[:300])
            out[name] = " ".join(re.sub(r"<[^>]+>", " ", res.text).split())
        return out


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


@pytest.fixture
def pages(db_url: str, engine: Engine, tmp_path: Path) -> Pages:
    core = demo_app(db_url, engine, tmp_path / "keys", today=TODAY)
    first = next(issued_sample(core, 40, actor="holder:vocab"), None)  # the first holder who can download today
    assert first is not None, "no demo holder can download on the test day"
    reg_no, issued = first
    for username, role, reg in (("holder-v", "holder", reg_no), ("admin-v", "admin", None)):
        accounts.add_user(
            core.uow(), username, role=role, password=PASSWORD, registration_no=reg, province=None,
            actor="test", now=core.clock.now(),
        )  # fmt: skip
    with core.uow() as uow:
        reg = uow.registry.get(reg_no)
    assert reg is not None
    app = create_app(core)
    view = registry.show_holder(core.uow(), reg_no, today=TODAY, policy=core.policy)
    assert view["status"] == "active"
    return Pages(
        view=view,
        gender=reg.person.gender.value,
        holder=signed_in(app, "holder-v", PASSWORD),
        admin=signed_in(app, "admin-v", PASSWORD),
        public=TestClient(app),
        token=token_of(issued),
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_same_state_has_the_same_word_on_the_holder_console_and_qr_pages__issue_10(pages: Pages, lang: str) -> None:
    status_label = "注册状态" if lang == "zh" else "Status"
    active = term("status.registration", "active", lang)
    assert active == ("正常" if lang == "zh" else "Active")
    for name, text in pages.all(lang).items():
        assert f"{status_label} {active}" in text, f"{name}: the registration is not {active!r}"
        for other in ("有效", "Valid", "valid", "active"):
            assert f"{status_label} {other} " not in text, f"{name}: the registration is called {other!r}"
        for s in pages.view["specialties"]:
            word = term("status.specialty", s["state"], lang)
            assert re.search(rf"{re.escape(s['specialty'])} .*{re.escape(word)}", text), (name, s, word)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_certificate_has_the_same_word_on_the_holder_page_and_the_qr_page__issue_10(
    pages: Pages, lang: str
) -> None:
    valid = term("status.certificate", "valid", lang)
    shown = pages.all(lang)
    assert valid in shown["holder /me"]
    for name in ("QR page (routed)", "QR page (fast path)"):
        assert valid in shown[name], name


def test_english_pages_keep_no_chinese_but_the_registry_s_own_data__issue_10(pages: Pages) -> None:
    v = pages.view
    data = [v["name"], v["registration_no"], v["employer"]["name"], v["province"]] + [
        s["specialty"] for s in v["specialties"]
    ]
    for name, text in pages.all("en").items():
        assert not FULL_WIDTH.search(text), (name, FULL_WIDTH.findall(text))
        rest = text
        for value in sorted(data, key=len, reverse=True):
            rest = rest.replace(value, " ")
        rest = rest.replace("中文", " ")  # the language switch names the other language in it
        rest = rest.replace(" 证 ", " ", 1)  # the header's emblem, a logo (base.html)
        assert not CJK.search(rest), (name, sorted(set(CJK.findall(rest))), rest[:2000])
        glued = re.findall(r"[A-Za-z0-9]\((?!s\))", rest)
        assert not glued, (name, glued)
    gender_en = term("gender", pages.gender, "en")
    assert gender_en in ("Male", "Female")
    shown = pages.all("en")
    assert f"Gender {gender_en}" in shown["holder /me"] and f"Gender {gender_en}" in shown["console /admin/holders"]
