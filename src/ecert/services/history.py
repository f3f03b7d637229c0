"""The history that answers for a date (issue 13 item 1): the use cases over a unit of work. The rule
is domain/history.py :func:`~ecert.domain.history.registration_on`; the records come from
``uow.history`` (adapters/db/history.py) in a few set-based statements, so a roster of 10,000
numbers is read in a handful of round trips."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from ecert.domain import history
from ecert.domain.history import RegistrationOnDate
from ecert.domain.policy import Policy
from ecert.services.unit_of_work import AbstractUnitOfWork


def registration_on(
    uow: AbstractUnitOfWork, registration_no: str, on: date, *, now: datetime, policy: Policy
) -> RegistrationOnDate | None:
    """What held for the registration on ``on``, as known at ``now``; None for an unknown number. A date
    after ``now``'s date or before the province's rollout gives a refusal (``answer.refused``)."""
    return registrations_on(uow, [registration_no], on, now=now, policy=policy).get(registration_no)


def registrations_on(
    uow: AbstractUnitOfWork, registration_nos: Sequence[str], on: date, *, now: datetime, policy: Policy
) -> dict[str, RegistrationOnDate]:
    """:func:`registration_on` for many numbers at once, by number; unknown numbers are not in the result.
    One read-only transaction (its own ``with uow``)."""
    with uow:
        records = uow.history.records(registration_nos)
    return history.answers_for(records, on, now=now, policy=policy)


def registration_of_serial(uow: AbstractUnitOfWork, serial: str) -> str | None:
    """The registration a certificate serial was issued to, or None."""
    with uow:
        return uow.history.registration_of_serial(serial)
