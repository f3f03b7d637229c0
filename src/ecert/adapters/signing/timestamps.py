"""RFC 3161 time-stamp tokens over arbitrary bytes (the OFD seal's ``SES_Signature.timeStamp``, R-DOC-6):
ask a time-stamp authority for one, and check one. The PDF's time-stamps are pyHanko's own (pades.py).

A token is the DER ``TimeStampToken`` (a CMS ContentInfo around a signed TSTInfo) whose message imprint is the
SHA-256 of the stamped bytes. Checking it: the imprint equals the SHA-256 of the bytes, the TSA's signature
holds, and the TSA's certificate chains to one of the given roots at ``moment`` (pyHanko's validation, no
network) — then the bytes provably existed at the token's time."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from asn1crypto import cms, x509  # type: ignore[import-untyped]
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko_certvalidator import ValidationContext

IMPRINT_ALGORITHM = "sha256"


def stamp_bytes(timestamper: Any, data: bytes) -> bytes:
    """A time-stamp token over ``data`` from ``timestamper`` (a pyHanko ``TimeStamper``), DER. Runs an event
    loop: not from inside async code."""
    digest = hashlib.sha256(data).digest()
    token: cms.ContentInfo = asyncio.run(timestamper.async_timestamp(digest, IMPRINT_ALGORITHM))
    return bytes(token.dump())


def token_time(token: bytes, data: bytes, *, roots: Sequence[x509.Certificate], moment: datetime) -> datetime | None:
    """The time ``token`` proves ``data`` existed at, when its imprint matches, its signature holds and its TSA
    is trusted under ``roots`` at ``moment``; None otherwise (never raises on bad bytes)."""
    try:
        info = cms.ContentInfo.load(token, strict=True)
        if info["content_type"].native != "signed_data":
            return None
        vc = ValidationContext(
            trust_roots=list(roots), moment=moment, allow_fetching=False, revocation_mode="soft-fail"
        )

        def expected(algorithm: str) -> bytes:
            return hashlib.new(algorithm, data).digest()

        status = asyncio.run(validate_tst_signed_data(info["content"], vc, expected))
    except Exception:
        return None
    trusted = status.get("validation_path") is not None and status.get("trust_problem_indic") is None
    if not (status.get("intact") and status.get("valid") and trusted):
        return None
    when = status.get("timestamp")
    return when if isinstance(when, datetime) else None
