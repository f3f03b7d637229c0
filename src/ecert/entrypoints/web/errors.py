"""The one place that maps error codes to HTTP statuses. API errors are
``{"error": {"code", "message", "rule"}}`` with the contract's codes; pages get an error page."""

from __future__ import annotations

from ecert.domain.errors import EcertError

STATUS: dict[str, int] = {
    "bad_input": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "csrf_failed": 403,
    "not_found": 404,
    "rate_limited": 429,
    "database_error": 503,
    "keys_missing": 503,
}
RULE_REFUSAL_STATUS = 409  # a rule of the notice refused it: the request conflicts with the registry's state


def http_status(err: EcertError) -> int:
    return STATUS.get(err.code, RULE_REFUSAL_STATUS)
