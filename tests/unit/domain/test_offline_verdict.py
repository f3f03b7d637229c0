"""The offline verdict (issue 14 item 2, domain/status_list.py): revoked → superseded → window → valid
from the signed list and the token, as online; a list past its next update or refused gives
"indeterminate" (status unknown) — never "valid", not even for a certificate the list does not name."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from ecert.domain.status_list import CURRENT, REVOKED, SUPERSEDED, ListAnswer, OfflineVerdict, judge_offline
from ecert.domain.verification import ReasonCode, VerificationResult, checks_made

ISSUED = datetime(2021, 3, 1, 3, 0, tzinfo=UTC)
TOKEN = VerificationResult(
    checks=checks_made(qr_token=True), serial="A" * 16, registration_no="浙1112004200500000",
    usage_from=date(2021, 3, 1), usage_until=date(2021, 4, 20),
)  # fmt: skip


def _judge(flag: int | None, *, hours: float = 1, today: date = date(2021, 3, 1), problem: ReasonCode | None = None):  # type: ignore[no-untyped-def]
    answer = ListAnswer(flag, ISSUED, ISSUED + timedelta(days=1), problem)
    now = ISSUED + timedelta(hours=hours)
    return judge_offline(TOKEN, answer, today=today, now=now), OfflineVerdict(TOKEN, answer, now)


@pytest.mark.parametrize(
    ("flag", "today", "status", "first"),
    [
        (CURRENT, date(2021, 3, 1), "valid", "valid"),
        (SUPERSEDED, date(2021, 3, 1), "superseded", "superseded"),
        (REVOKED, date(2021, 3, 1), "revoked", "revoked_listed"),
        (REVOKED, date(2021, 5, 1), "revoked", "revoked_listed"),  # revoked before expired, as online
        (CURRENT, date(2021, 4, 21), "expired", "expired"),
        (CURRENT, date(2021, 2, 28), "not_yet_valid", "not_yet_valid"),
    ],
)
def test_the_offline_verdict_follows_the_online_order(flag: int, today: date, status: str, first: str) -> None:
    result, _ = _judge(flag, today=today)
    assert result.status == status
    assert result.reason_codes == [first, "offline_unchecked"]  # and it says what it did not check
    assert result.checks["record"] is None and result.checks["qr_token"] is True


@pytest.mark.parametrize("flag", [CURRENT, SUPERSEDED, REVOKED])
def test_a_list_past_its_next_update_gives_status_unknown_never_valid(flag: int) -> None:
    result, verdict = _judge(flag, hours=24)
    assert result.status == "indeterminate"
    assert result.reason_codes == ["status_list_stale", "offline_unchecked"]
    assert result.checks["current"] is None
    d = verdict.as_dict("en")
    assert d["status_list_issued_at"] == "2021-03-01T11:00:00+08:00"  # CST, as every instant shown (R-DATE-1)
    assert d["status_list_age_seconds"] == 24 * 3600 and d["offline"] is True
    assert "issuance_record" in d["not_checked"]


@pytest.mark.parametrize("problem", [ReasonCode.STATUS_LIST_MALFORMED, ReasonCode.STATUS_LIST_UNKNOWN_KEY])
def test_a_refused_list_gives_status_unknown_with_its_reason(problem: ReasonCode) -> None:
    result, verdict = _judge(None, problem=problem)
    assert result.status == "indeterminate" and result.reason_codes == [problem.value]
    assert verdict.as_dict()["status_list_problem"] == problem.value
