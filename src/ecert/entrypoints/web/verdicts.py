"""The one place that turns a verification's verdict into what a person or a program reads: the
verdict page's context (:func:`page_context`, templates/verify_result.html) and the API's JSON
(:func:`as_json`)."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from ecert.domain import messages
from ecert.domain.dates import CST
from ecert.domain.verification import VerificationResult, check_lines

GENUINE = frozenset({"valid", "expired", "not_yet_valid", "superseded", "revoked"})
VERDICTS = frozenset(messages.terms("status.certificate", "en"))


@functools.lru_cache(maxsize=256)
def check_list(
    lang: str, channel: str, checks: tuple[tuple[str, bool | None], ...]
) -> tuple[tuple[bool | None, str], ...]:
    """The page's list of checks in words, (passed, line): a few dozen outcomes ever occur (the hot QR page)."""
    return tuple((c.passed, c.text(lang)) for c in check_lines(dict(checks), channel))


def is_genuine(result: VerificationResult) -> bool:
    """The token or file is the service's own (whatever its state): the signature image may be shown (R-DOC-5)."""
    return result.status in GENUINE


def page_context(
    lang: str, result: VerificationResult, token: str | None, channel: str, checked_at: datetime
) -> dict[str, Any]:
    """What verify_result.html shows: the verdict, when it was reached (China time, R-DATE-1), each
    check as passed, failed or not made, and the signature image's link for a genuine token only."""
    d = as_json(result, lang)
    status = result.status if result.status in VERDICTS else "indeterminate"
    at = checked_at.astimezone(CST)
    return {
        "result": d,
        "verdict": messages.term("status.certificate", status, lang),
        "status": result.status,
        "token": token if is_genuine(result) else None,
        "content": result.content,
        "checks": check_list(lang, channel, tuple(result.checks.items())),
        "checked_at": at.strftime("%Y-%m-%d %H:%M:%S"),
        "checked_at_iso": at.isoformat(timespec="seconds"),
    }


def as_json(result: VerificationResult, lang: str) -> dict[str, Any]:
    """The verdict as the API answers it (the reasons' sentences in ``lang``)."""
    return result.as_dict(lang)
