"""Build, keep and serve the signed status list (issue 14 item 2; the format: adapters/status_list.py).

A build reads the listed certificates, each with its neighbours in sorted order, in one statement (and
how many were issued), encodes and signs the list (under the current QR key, as attestations: its
``kid`` is in ``keys export --jwks``) and stores it; the newest stored list is the one served at
``/.well-known/ecert-status-list`` and put in the offline kit. The ``status_list`` job builds one every
hour (a worker with ``--schedule`` queues it); :func:`current` builds one on demand when the newest is
older than :data:`~ecert.domain.status_list.REFRESH`, was signed by another key, or there is none.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from ecert.adapters import status_list as fmt
from ecert.domain.status_list import REFRESH, VALIDITY, StoredStatusList
from ecert.services.unit_of_work import AbstractUnitOfWork


class ListSigner(Protocol):
    """adapters/signing/jws.py ``JwsSigner``: the current QR key's kid and a raw-payload JWS."""

    @property
    def kid(self) -> str: ...

    def sign_bytes(self, payload: bytes, header: Mapping[str, Any]) -> str: ...


def build(uow: AbstractUnitOfWork, *, signer: ListSigner, now: datetime) -> StoredStatusList:
    """Build, sign and store a new list from the registry as it is now; returns it."""
    now = now.replace(microsecond=0)  # the header's RFC 3339 instants are to the second
    with uow:
        listed, covered = uow.status_lists.listed()
    payload = fmt.encode(listed, covered)
    next_update = now + VALIDITY
    jws = signer.sign_bytes(payload, fmt.header(signer.kid, now, next_update))
    item = StoredStatusList(jws, now, next_update, signer.kid, len(listed), covered)
    with uow:
        uow.status_lists.add(item)
        uow.commit()
    return item


_building = threading.Lock()  # one on-demand build at a time in a process (a burst of requests waits)


def current(
    uow: Callable[[], AbstractUnitOfWork], *, signer: ListSigner, now: Callable[[], datetime]
) -> StoredStatusList:
    """The newest list, built now if it is missing, older than REFRESH or signed by another key."""

    def fresh() -> StoredStatusList | None:
        with uow() as u:
            latest = u.status_lists.latest()
        if latest is None or latest.kid != signer.kid or now() - latest.issued_at >= REFRESH:
            return None
        return latest

    found = fresh()
    if found is not None:
        return found
    with _building:
        return fresh() or build(uow(), signer=signer, now=now())
