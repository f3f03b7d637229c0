"""Batch issuance across all cores (issue "national scale": authority drills and re-sealing).

Every certificate goes through :func:`services.issuance.issue`, the same code path as a single
download: the rules, the usage window, the seal, the record and the audit event. The confirmation
is recorded as the authority's (``actor``), not as a holder's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecert.config import Settings

if TYPE_CHECKING:
    from ecert.bootstrap import App


@lru_cache(maxsize=1)
def _worker_app(settings: Settings) -> App:
    """The composition root of one worker process, built by bootstrap once per process and
    settings (an explicit cache: keys and fonts load once, not per certificate)."""
    from ecert.bootstrap import bootstrap

    return bootstrap(settings)


def _init(settings: Settings) -> None:
    _worker_app(settings).documents  # noqa: B018 - load keys and fonts before the first certificate


def _issue_one(
    settings: Settings, registration_no: str, out_dir: str, actor: str, formats: tuple[str, ...] = ("pdf",)
) -> tuple[str, str | None, str | None]:
    """One certificate of the batch, its files written before its record is committed: a file that cannot be
    written (the output disk is full) leaves nothing recorded, and the refusal's code says why
    (``out_write_failed``; issue 16 §5)."""
    from ecert.domain.errors import BadInput, EcertError
    from ecert.services import issuance

    a = _worker_app(settings)

    def named(suffix: str) -> Callable[[str], Path]:
        return lambda serial: Path(out_dir) / f"{registration_no}-{serial}.{suffix}"

    try:
        issued = issuance.issue(
            a.uow(), registration_no, confirm=True, actor=actor, today=a.clock.today(), now=a.clock.now(),
            policy=a.policy, docs=a.documents, formats=formats, out=named("pdf"), ofd_out=named("ofd"),
        )  # fmt: skip
    except BadInput as exc:
        return registration_no, None, next((p.code for p in exc.problems if p.code), exc.code)
    except EcertError as exc:
        return registration_no, None, exc.code
    return registration_no, issued.serial, None


@dataclass
class BatchResult:
    issued: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # code -> count
    refusals: list[dict[str, str]] = field(default_factory=list)  # first 1,000, each {registration_no, code}

    def as_dict(self) -> dict[str, Any]:
        return {"issued": self.issued, "refused": self.refused, "refusals": self.refusals}


def issue_batch(
    settings: Settings,
    registration_nos: Iterable[str],
    out_dir: Path,
    *,
    actor: str,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    formats: tuple[str, ...] = ("pdf",),
) -> BatchResult:
    """Issue a certificate for each of ``registration_nos`` into ``out_dir`` as
    ``<registration_no>-<serial>.pdf`` (and ``.ofd``, R-DOC-6, as ``formats`` say), across processes."""
    numbers = [n.strip() for n in registration_nos if n.strip()]
    out_dir.mkdir(parents=True, exist_ok=True)
    result = BatchResult()
    n_workers = max(1, min(workers or os.cpu_count() or 1, len(numbers) or 1))
    done = 0
    with ProcessPoolExecutor(max_workers=n_workers, initializer=_init, initargs=(settings,)) as pool:
        futures = [pool.submit(_issue_one, settings, no, str(out_dir), actor, formats) for no in numbers]
        for fut in as_completed(futures):
            no, serial, code = fut.result()
            if serial is not None:
                result.issued += 1
            else:
                assert code is not None
                result.refused[code] = result.refused.get(code, 0) + 1
                if len(result.refusals) < 1000:
                    result.refusals.append({"registration_no": no, "code": code})
            done += 1
            if progress is not None:
                progress(done, len(numbers))
    return result
