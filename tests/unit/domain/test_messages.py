"""The one message catalogue (domain/messages.py, issue 10 "First impressions"): every entry in both
languages, English free of Chinese characters and full-width punctuation and of words glued to a
parenthesis or a comma, the same placeholders in both languages, and a term for every code the
registry, the verifier and the accounts can produce."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ecert.adapters.db.verification_log import CHANNELS
from ecert.domain import messages, verification
from ecert.domain.messages import CATALOG, ERRORS, TERMS, render, term, terms, text
from ecert.domain.model import ApplicationStatus, Gender, RegistrationStatus, SpecialtyState
from ecert.domain.verification import ReasonCode, VerificationStatus
from ecert.services import accounts

SRC = Path(messages.__file__).resolve().parents[1]

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]")
FULL_WIDTH = re.compile(r"[\u3000-\u303f\uff00-\uffef]")  # 、。「」 and the full-width forms ( ) , : ; !
PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)(?::([^{}]*))?\}")
GLUED_PAREN = re.compile(r"[A-Za-z0-9]\((?!s\))")  # "window(2026-…" wants "window (2026-…"; "problem(s)" is fine
GLUED_AFTER = re.compile(r"[,;:](?=[^\s\d])")  # "a,b" / "basis:x" want a space after the mark

# docs/cli.md ``verify.status``
VERIFY_STATUSES = (
    "valid", "tampered", "untrusted", "expired", "not_yet_valid", "superseded", "revoked", "indeterminate",
)  # fmt: skip


def _without_placeholders(s: str) -> str:
    return PLACEHOLDER.sub("X", s)


@pytest.mark.parametrize("key", sorted(CATALOG))
def test_every_entry_has_chinese_and_clean_english__issue_10(key: str) -> None:
    entry = CATALOG[key]
    assert isinstance(entry, tuple) and len(entry) == 2, key
    zh, en = entry
    assert zh.strip() and en.strip(), key
    assert CJK.search(zh), f"{key}: the Chinese entry has no Chinese: {zh!r}"
    assert not CJK.search(en), f"{key}: Chinese characters in English: {en!r}"
    assert not FULL_WIDTH.search(en), f"{key}: full-width punctuation in English: {en!r}"
    bare = _without_placeholders(en)
    assert not GLUED_PAREN.search(bare), f"{key}: no space before '(' in English: {en!r}"
    assert not GLUED_AFTER.search(bare), f"{key}: no space after a comma, semicolon or colon in English: {en!r}"
    assert en == en.strip() and "  " not in en, f"{key}: stray spaces in English: {en!r}"


@pytest.mark.parametrize("key", sorted(CATALOG))
def test_both_languages_take_the_same_placeholders__issue_10(key: str) -> None:
    zh, en = CATALOG[key]
    assert sorted(PLACEHOLDER.findall(zh)) == sorted(PLACEHOLDER.findall(en)), key
    for _name, spec in PLACEHOLDER.findall(zh):
        if spec.startswith("@"):
            assert terms(spec[1:], "zh"), f"{key}: {{…:{spec}}} names no kind of term in the catalogue"


def test_error_codes_and_terms_do_not_share_a_key__issue_10() -> None:
    assert not set(ERRORS) & set(TERMS)
    assert all("." not in k for k in ERRORS) and all("." in k for k in TERMS)


@pytest.mark.parametrize(
    ("kind", "codes"),
    [
        ("status.registration", [s.value for s in RegistrationStatus]),
        ("status.specialty", [s.value for s in SpecialtyState]),
        ("status.application", [s.value for s in ApplicationStatus]),
        ("status.certificate", list(VERIFY_STATUSES)),
        ("status.certificate", [s.value for s in VerificationStatus]),
        ("gender", [g.value for g in Gender]),
        ("role", list(accounts.ROLES)),
        ("check", list(verification.CHECKS)),
        ("channel", list(CHANNELS)),
    ],
)
def test_every_code_has_its_term_and_nothing_else__issue_10(kind: str, codes: list[str]) -> None:
    assert set(terms(kind, "zh")) == set(codes)
    assert set(terms(kind, "en")) == set(codes)


def test_every_verification_reason_is_in_the_catalogue__issue_10() -> None:
    # The reason codes are one enumeration (domain/verification.py ReasonCode), each with its sentence.
    from ecert.domain.history import DateCode

    # ... and the answers for a date theirs (domain/history.py DateCode, issue 13).
    used = {c.value for c in ReasonCode} | {c.value for c in DateCode}
    assert used == set(terms("reason", "en")) == set(terms("reason", "zh"))


def test_one_concept_one_word_across_pages__issue_10() -> None:
    # The registration is 正常 / Active; 有效 / Valid belongs to a certificate or a specialty.
    assert term("status.registration", "active", "zh") == "正常"
    assert term("status.registration", "active", "en") == "Active"
    assert term("status.certificate", "valid", "zh") == term("status.specialty", "valid", "zh") == "有效"
    assert "有效" not in terms("status.registration", "zh").values()
    # A word names one state of a kind: two states of a kind never share a word.
    for kind in ("status.registration", "status.specialty", "status.certificate", "status.application"):
        for lang in ("zh", "en"):
            words = list(terms(kind, lang).values())
            assert len(words) == len(set(words)), (kind, lang, words)


def test_terms_fill_messages_in_the_reader_s_language__issue_10() -> None:
    assert render("registration_inactive", "zh", {"status": "revoked"}) == "注册状态为“已撤销”,不能办理此业务"
    assert render("registration_inactive", "en", {"status": "revoked"}) == (
        "The registration status is “Revoked”; this is not possible"
    )
    assert render("not_found", "en", {"what": "registration_no", "key": "X1"}) == "No registration number found: X1"
    assert render("not_found", "zh", {"what": "registration_no", "key": "X1"}) == "未找到注册编号:X1"
    assert text("reason.revoked_no_details", "en", {"status": "suspended"}) == "Registration status: Suspended"
    assert term("gender", "女", "en") == "Female" and term("gender", "男", "en") == "Male"


def test_unknown_codes_and_missing_params_never_crash__issue_10() -> None:
    assert term("status.registration", "frozen", "en") == "frozen"
    assert term("status.registration", None, "en") == ""
    assert render("no_such_code", "en", {}) == "no_such_code"
    assert "{" in render("not_found", "en", {})  # the template, not a KeyError


def test_the_documented_vocabulary_is_the_catalogue__issue_10() -> None:
    """docs/vocabulary.md lists every kind of term with exactly the catalogue's words."""
    doc = (SRC.parents[1] / "docs" / "vocabulary.md").read_text("utf-8")
    documented: dict[str, dict[str, tuple[str, str]]] = {}
    for section in re.split(r"^## ", doc, flags=re.M)[1:]:
        head = re.match(r".*: `([\w.]+)`\n", section)
        if head:
            rows = re.findall(r"^\| `([^`]+)` \| (.+?) \| (.+?) \|$", section, flags=re.M)
            documented[head.group(1)] = {code: (zh, en) for code, zh, en in rows}
    # Reasons are sentences, not terms: verification reasons and a roster row's (domain/roster.py).
    kinds = {k.rsplit(".", 1)[0] for k in TERMS if not k.startswith(("reason.", "roster_reason."))}
    assert set(documented) == kinds
    for kind, rows in documented.items():
        assert rows == {code: (term(kind, code, "zh"), term(kind, code, "en")) for code in terms(kind, "zh")}, kind
