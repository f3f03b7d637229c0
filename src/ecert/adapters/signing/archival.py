"""Keeping archived sealed PDFs verifiable (R-DOC-2, long-term validation): the archival time-stamp job.

A time-stamp proves the seal existed at its time only while the time-stamp's own TSA certificate can be trusted.
Before that certificate ends, a newer document time-stamp over the whole file (with the validation data of
everything before it in the DSS) extends the proof: PAdES B-LTA (:func:`.pades.async_extend_archival`).

Which files: every ``*.pdf`` under the given directory (recursively) — the authority's archive of issued
certificates (``cert batch --out-dir``, ``jobs enqueue reseal --out-dir``, copies kept by the deployment). A
holder's own downloaded copy is not in the authority's hands: it stays verifiable as long as its newest
time-stamp's TSA certificate (the DEMO TSA: until 2040) and, for a B-B file, the seal certificate.
How found: a file is due when its newest time-stamp's TSA certificate ends within ``renew_before`` (default 365
days), or when it has no time-stamp at all (its first document time-stamp is then the earliest proof there can
be, while the seal certificate is still valid). How often: monthly is plenty with a year's margin
(``ecert jobs enqueue archive --dir DIR``); running it again changes nothing that is not due.
Each file is replaced atomically (written beside it, then renamed): a crash leaves the old or the new file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ecert.adapters.signing.pades import newest_timestamp_expiry

DEFAULT_RENEW_BEFORE = timedelta(days=365)


@dataclass
class ArchivalRun:
    checked: int = 0
    renewed: int = 0
    not_due: int = 0
    failed: list[str] = field(default_factory=list)  # file names (relative) whose update failed

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_due(pdf: bytes, *, now: datetime, renew_before: timedelta = DEFAULT_RENEW_BEFORE) -> bool:
    """Whether ``pdf`` needs a (new) document time-stamp now (see the module doc)."""
    expiry = newest_timestamp_expiry(pdf)
    return expiry is None or expiry - renew_before <= now


def _replace(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def renew_archive(
    directory: Path,
    *,
    extend: Callable[[bytes], bytes],
    now: datetime,
    renew_before: timedelta = DEFAULT_RENEW_BEFORE,
    progress: Callable[[int, int], None] | None = None,
) -> ArchivalRun:
    """Give every due PDF under ``directory`` a new document time-stamp (``extend``: bytes → bytes)."""
    files = sorted(p for p in directory.rglob("*.pdf") if p.is_file())
    run = ArchivalRun()
    for i, path in enumerate(files, 1):
        run.checked += 1
        data = path.read_bytes()
        if not is_due(data, now=now, renew_before=renew_before):
            run.not_due += 1
        else:
            try:
                updated = extend(data)
            except Exception:  # not sealed, damaged, TSA refused: say which file, go on with the others
                run.failed.append(str(path.relative_to(directory)))
            else:
                _replace(path, updated)
                run.renewed += 1
        if progress is not None:
            progress(i, len(files))
    return run
