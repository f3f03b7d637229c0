"""Rollout scope (R-SCOPE-1) and the end of paper certificates (R-SCOPE-2)."""

from __future__ import annotations

from datetime import date

from ecert.domain.policy import Policy


def in_rollout(province_code: str, today: date, policy: Policy) -> bool:
    """R-SCOPE-1: covered by at least one active rollout batch on ``today``."""
    return any(b.covers(province_code, today) for b in policy.batches)


def paper_certificates_void(today: date, policy: Policy) -> bool:
    """R-SCOPE-2: from ``paper_void_from`` on, paper certificates no longer count."""
    return today >= policy.paper_void_from
