"""What a verification concluded (domain/verification.py): the online verdict of :func:`judge` — the first
status that applies, in the documented order —, the verdict as a frozen value and its JSON with the
reason codes; and the verdict pages' list of checks (R-DOC-4): each line stands for one or more of the verification's
checks; a line fails if any of its checks failed, passes only if every one of them was made and
passed, and is "not checked" otherwise — a check never reached is never shown as passed."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from ecert.domain.certificate import CertificateRecord
from ecert.domain.model import Registration, RegistrationStatus
from ecert.domain.policy import Policy
from ecert.domain.verification import (
    CHECK_LINES,
    CHECKS,
    Reason,
    ReasonCode,
    TokenClaims,
    VerificationResult,
    VerificationSnapshot,
    VerificationStatus,
    check_lines,
    checks_made,
    judge,
    token_failure,
)

RegFactory = Callable[..., Registration]


def _outcomes(checks: dict[str, bool | None], channel: str) -> dict[str, bool | None]:
    return {line.code: line.passed for line in check_lines(checks, channel)}


def test_every_check_is_on_each_channels_list_once_at_most() -> None:
    for channel, lines in CHECK_LINES.items():
        keys = [k for _, ks in lines for k in ks]
        assert len(keys) == len(set(keys)) and set(keys) <= set(CHECKS), channel
    pdf = {k for _, ks in CHECK_LINES["pdf"] for k in ks}
    assert pdf == set(CHECKS)  # a PDF's list accounts for every check made


def test_a_line_of_several_checks_fails_on_any_failure_and_passes_only_when_all_passed() -> None:
    made = dict.fromkeys(CHECKS)
    assert set(_outcomes(made, "pdf").values()) == {None}  # nothing decided: nothing passed
    made.update(signature=True, unmodified=True, trusted=True, qr_token=True, bound=False)
    assert _outcomes(made, "pdf") == {
        "seal": True, "unchanged": True, "trusted": True, "issued": False, "current": None, "window": None,
    }  # fmt: skip
    made.update(bound=True)  # bound, but the registry was not read yet
    assert _outcomes(made, "pdf")["issued"] is None
    made.update(record=True, current=True, window=False)
    assert _outcomes(made, "pdf") == {
        "seal": True, "unchanged": True, "trusted": True, "issued": True, "current": True, "window": False,
    }  # fmt: skip
    assert _outcomes({"qr_token": True, "record": True, "current": False}, "qr") == {
        "seal": True, "issued": True, "current": False, "window": None,
    }  # fmt: skip


def test_lines_read_in_both_languages() -> None:
    (seal, *_) = check_lines(dict.fromkeys(CHECKS, True), "qr")
    assert seal.text("zh") == "二维码签名有效,未被改动"
    assert seal.text("en") == "The QR code's signature verifies (unchanged)"


# ------------------------------------------------------------------------- the verdict (judge)

DIGEST = hashlib.sha256(b"content").digest()
ISSUED = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
FROM, UNTIL = date(2026, 3, 2), date(2027, 3, 1)


def _record(data_version: int = 1) -> CertificateRecord:
    return CertificateRecord(
        serial="AAAAAAAAAAAAAAAA", registration_no="京1112010201200001", data_version=data_version,
        identifier="X", usage_from=FROM, usage_until=UNTIL, issue_date=FROM, content_digest=DIGEST.hex(),
        seal_key_id="seal", qr_kid="kid", confirmed_by="holder", confirmed_at=ISSUED, issued_at=ISSUED,
    )  # fmt: skip


CLAIMS = TokenClaims("AAAAAAAAAAAAAAAA", "京1112010201200001", FROM, UNTIL, DIGEST[:16], "kid")


def _snapshot(
    make_reg: RegFactory,
    *,
    status: RegistrationStatus = RegistrationStatus.ACTIVE,
    data_version: int = 1,
    basis: str | None = None,
    effective: date | None = None,
) -> VerificationSnapshot:
    reg = replace(make_reg(status=status), data_version=data_version)
    return VerificationSnapshot(_record(), reg, basis, effective)


def _started() -> VerificationResult:
    """What the QR check hands to judge: the token verified."""
    return VerificationResult(checks=checks_made(qr_token=True), serial=CLAIMS.serial)


def _judge(snapshot: VerificationSnapshot | None, today: date, policy: Policy, **kw: Any) -> VerificationResult:
    return judge(_started(), kw.get("claims", CLAIMS), kw.get("digest"), snapshot, today=today, policy=policy)


def test_no_record_is_indeterminate(policy: Policy) -> None:
    v = _judge(None, FROM, policy)
    assert (v.status, v.reason_codes) == ("indeterminate", ["no_record"])
    assert v.checks["record"] is False and v.checks["current"] is None and v.holder is None


@pytest.mark.parametrize(
    "claims",
    [
        replace(CLAIMS, digest16=bytes(16)),
        replace(CLAIMS, registration_no="京1112010201200002"),
        replace(CLAIMS, usage_until=UNTIL + timedelta(days=1)),
    ],
)
def test_a_token_that_does_not_match_its_record_is_tampered(
    make_reg: RegFactory, policy: Policy, claims: TokenClaims
) -> None:
    v = _judge(_snapshot(make_reg), FROM, policy, claims=claims)
    assert (v.status, v.reason_codes, v.checks["record"]) == ("tampered", ["record_mismatch"], False)
    assert v.holder is None  # nothing of the registry is shown for a forged certificate


def test_a_pdf_whose_full_digest_differs_is_tampered(make_reg: RegFactory, policy: Policy) -> None:
    assert _judge(_snapshot(make_reg), FROM, policy, digest=DIGEST).status == "valid"
    v = _judge(_snapshot(make_reg), FROM, policy, digest=hashlib.sha256(b"other").digest()[:16] + DIGEST[16:])
    assert (v.status, v.reason_codes) == ("tampered", ["record_mismatch"])


REVOKED = RegistrationStatus.REVOKED
LATE = UNTIL + timedelta(days=1)


@pytest.mark.parametrize(
    ("status", "data_version", "today", "expected", "checks"),
    [
        # revoked before superseded before the window (R-CHG-1, R-USE-3)
        (REVOKED, 2, LATE, "revoked", {"current": False, "window": None}),
        (RegistrationStatus.ACTIVE, 2, LATE, "superseded", {"current": False, "window": None}),
        (RegistrationStatus.ACTIVE, 1, LATE, "expired", {"current": True, "window": False}),
        (RegistrationStatus.ACTIVE, 1, FROM - timedelta(days=1), "not_yet_valid", {"current": True, "window": False}),
        (RegistrationStatus.ACTIVE, 1, FROM, "valid", {"current": True, "window": True}),
        (RegistrationStatus.ACTIVE, 1, UNTIL, "valid", {"current": True, "window": True}),
    ],
)
def test_the_first_status_that_applies_wins(
    make_reg: RegFactory,
    policy: Policy,
    status: RegistrationStatus,
    data_version: int,
    today: date,
    expected: str,
    checks: dict[str, bool | None],
) -> None:
    basis, effective = "《规定》第十七条", date(2026, 5, 1)  # read for a revocation only
    snap = _snapshot(make_reg, status=status, data_version=data_version, basis=basis, effective=effective)
    v = _judge(snap, today, policy)
    assert v.status == expected and v.status is VerificationStatus(expected)
    assert v.reason_codes == [expected]
    assert {k: v.checks[k] for k in checks} == checks and v.checks["record"] is True
    assert v.holder is not None and v.holder["registration_no"] == "京1112010201200001"


@pytest.mark.parametrize(
    ("basis", "effective", "code"),
    [
        ("《规定》第十七条", date(2026, 5, 1), "revoked"),
        (None, date(2026, 5, 1), "revoked_no_basis"),
        ("《规定》第十七条", None, "revoked_no_details"),
        (None, None, "revoked_no_details"),
    ],
)
def test_a_revocation_says_what_it_knows(
    make_reg: RegFactory, policy: Policy, basis: str | None, effective: date | None, code: str
) -> None:
    snap = _snapshot(make_reg, status=RegistrationStatus.CANCELLED, basis=basis, effective=effective)
    v = _judge(snap, FROM, policy)
    assert (v.status, v.reason_codes) == ("revoked", [code])
    eff = effective.isoformat() if effective else None
    assert v.holder is not None
    assert v.holder["revocation"] == {"status": "cancelled", "basis": basis, "effective": eff}
    assert v.reasons[0].params == {"status": "cancelled", "basis": basis or "", "effective": eff or ""}


def test_the_public_view_masks_the_id_number_and_shows_no_more_than_the_certificate(
    make_reg: RegFactory, policy: Policy
) -> None:
    v = _judge(_snapshot(make_reg), FROM, policy)
    assert v.holder is not None
    assert v.holder["id_number"] == "110101********0015"
    assert "age65_date" not in v.holder and "has_signature" not in v.holder and v.holder["revocation"] is None


@pytest.mark.parametrize(
    ("error_code", "status", "reason"),
    [
        ("bad_signature", "tampered", "qr_bad_signature"),
        ("unknown_key", "untrusted", "qr_unknown_key"),
        ("malformed", "indeterminate", "qr_malformed"),
    ],
)
def test_a_token_that_does_not_verify(error_code: str, status: str, reason: str) -> None:
    assert token_failure(error_code) == (VerificationStatus(status), Reason(ReasonCode(reason)))


# ------------------------------------------------------------------------- the verdict as a value


def test_the_verdict_is_frozen_and_judge_leaves_its_input_alone(make_reg: RegFactory, policy: Policy) -> None:
    start = _started()
    v = judge(start, CLAIMS, None, _snapshot(make_reg), today=FROM, policy=policy)
    assert start == _started() and start.status == "indeterminate" and start.checks["record"] is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.status = VerificationStatus.TAMPERED  # type: ignore[misc]
    with pytest.raises(TypeError):
        v.checks["window"] = False  # type: ignore[index]
    with pytest.raises(TypeError):
        v.holder["name"] = "李四"  # type: ignore[index]
    assert isinstance(v.reasons, tuple)


def test_checked_and_concluded_make_new_values() -> None:
    empty = VerificationResult()
    assert dict(empty.checks) == dict.fromkeys(CHECKS) and empty.status == "indeterminate" and empty.reasons == ()
    one = empty.checked(signature=True)
    assert one.checks["signature"] is True and empty.checks["signature"] is None
    done = one.concluded(VerificationStatus.TAMPERED, Reason(ReasonCode.MODIFIED_AFTER_SIGNING), unmodified=False)
    assert (done.status, done.reason_codes, done.checks["unmodified"]) == (
        "tampered",
        ["modified_after_signing"],
        False,
    )
    assert one.status == "indeterminate" and one.checks["unmodified"] is None


def test_as_dict_keeps_its_keys_adds_the_codes_and_survives_json(make_reg: RegFactory, policy: Policy) -> None:
    snap = _snapshot(make_reg, status=REVOKED, basis="《规定》第十七条", effective=date(2026, 5, 1))
    v = _judge(snap, FROM, policy)
    for lang in ("zh", "en"):
        d = v.as_dict(lang)
        assert list(d) == [
            "status", "reasons", "reason_codes", "serial", "registration_no", "usage_from", "usage_until", "checks",
            "current",
        ]  # fmt: skip
        assert json.loads(json.dumps(d, ensure_ascii=False)) == d
        assert type(d["status"]) is str and d["status"] == "revoked"
        assert d["reason_codes"] == ["revoked"] and all(type(c) is str for c in d["reason_codes"])
        assert d["reasons"] == [Reason(ReasonCode.REVOKED, v.reasons[0].params).text(lang)]
        assert d["checks"] == dict(v.checks) and d["current"] == dict(v.holder or {})
    assert "第十七条" in v.as_dict("zh")["reasons"][0] and "2026-05-01" in v.as_dict("en")["reasons"][0]
    assert VerificationResult().as_dict()["reason_codes"] == [] and VerificationResult().as_dict()["current"] is None


def test_the_statuses_are_those_docs_cli_md_lists() -> None:
    assert [s.value for s in VerificationStatus] == [
        "valid", "tampered", "untrusted", "expired", "not_yet_valid", "superseded", "revoked", "indeterminate",
    ]  # fmt: skip
