"""The QR check's hot path as a use case (R-DOC-4, R-ACC-1): verified tokens remembered (LRU) and,
where the composition root gives one, the registry read as one statement on the event loop
(``bootstrap.web_parts`` picks it: PostgreSQL's async read, or none for SQLite). The verdict is
:func:`judge`'s, the same as :func:`verification.verify_qr`'s."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

import anyio.to_thread
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ecert.domain.policy import Policy
from ecert.domain.verification import VerificationResult, VerificationStatus
from ecert.services import verification
from ecert.services.unit_of_work import AbstractUnitOfWork
from ecert.services.verification import SnapshotLoader, VerifiedTokens


class VerificationRecorder(Protocol):
    """Where each verification is noted (R-ACC-1): adapters/db/verification_log.py's VerificationLog."""

    def record(self, channel: str, serial: str | None, registration_no: str | None, status: str) -> None: ...


@dataclass(kw_only=True, eq=False)
class FastVerify:
    """Verify what a scanner read, per process. ``snapshot``: the registry's one-statement async read
    (None: the unit of work's synchronous read, on a worker thread). With a ``log``, each verification
    is recorded in it (a list append: the page does no extra I/O, R-ACC-1)."""

    uow: Callable[[], AbstractUnitOfWork]
    keys: Callable[[], dict[str, Ed25519PublicKey]]
    today: Callable[[], date]
    policy: Policy
    snapshot: SnapshotLoader | None = None
    log: VerificationRecorder | None = None
    cache_size: int = 16_384
    _tokens: VerifiedTokens | None = field(default=None, init=False, repr=False)

    @property
    def tokens(self) -> VerifiedTokens:
        if self._tokens is None:  # the keys are read on first use, not when the app is built
            self._tokens = VerifiedTokens(self.keys(), self.cache_size)
        return self._tokens

    async def verify(self, text: str, channel: str = "qr") -> VerificationResult:
        if self.snapshot is None:  # the synchronous read, off the event loop
            check = functools.partial(
                verification.verify_qr, self.uow(), text, keys=self.keys(), today=self.today(), policy=self.policy,
                decode_token=self.tokens,
            )  # fmt: skip
            result = await anyio.to_thread.run_sync(check)
        else:
            result = await verification.verify_qr_async(
                self.snapshot, text, decode_token=self.tokens, today=self.today(), policy=self.policy
            )
            if result.status is VerificationStatus.SUPERSEDED:  # rare: the current serial, read once more
                complete = functools.partial(verification.with_supersession, self.uow(), result)
                result = await anyio.to_thread.run_sync(complete)
        if self.log is not None:
            self.log.record(channel, result.serial, result.registration_no, result.status)
        return result
