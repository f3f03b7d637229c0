"""Registry use cases: show a holder (docs/cli.md ``holder show``), store a signature image."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any

from ecert.adapters.db.registry import Change, HolderImage
from ecert.domain.errors import BadInput, NotFound, problem
from ecert.domain.holder import holder_view
from ecert.domain.images import MAX_IMAGE_BYTES, image_type
from ecert.domain.model import Registration, SupersessionCause
from ecert.domain.policy import Policy
from ecert.services.unit_of_work import AbstractUnitOfWork


def get_registration(uow: AbstractUnitOfWork, registration_no: str) -> Registration:
    reg = uow.registry.get(registration_no.strip())
    if reg is None:
        raise NotFound("registration_no", registration_no)
    return reg


def get_registration_with_images(
    uow: AbstractUnitOfWork, registration_no: str
) -> tuple[Registration, dict[str, bytes]]:
    """:func:`get_registration` and the holder's images (kind -> bytes) in one read: what an issuance needs."""
    found = uow.registry.get_with_images(registration_no.strip())
    if found is None:
        raise NotFound("registration_no", registration_no)
    return found


def show_holder(uow: AbstractUnitOfWork, registration_no: str, *, today: date, policy: Policy) -> dict[str, Any]:
    with uow:
        return holder_view(get_registration(uow, registration_no), today, policy)


def set_signature(uow: AbstractUnitOfWork, registration_no: str, data: bytes, *, now: datetime, actor: str) -> bool:
    """Store the holder's signature image (PNG/JPEG). Needed before any certificate (R-USE-4)."""
    ctype = image_type(data)
    if ctype is None:
        raise BadInput([problem("签名图像应为 PNG 或 JPEG", "The signature image must be PNG or JPEG")])
    if len(data) > MAX_IMAGE_BYTES:
        raise BadInput([problem("签名图像超过 2 MB", "The signature image is larger than 2 MB")])
    digest = hashlib.sha256(data).hexdigest()
    with uow:
        get_registration(uow, registration_no)
        image = HolderImage("signature", ctype, data, digest)
        changed = uow.registry.put_image(registration_no, image, Change(SupersessionCause.SIGNATURE, now, actor))
        uow.audit.append(
            at=now, actor=actor, action="holder.set_signature", subject=registration_no, payload={"sha256": digest}
        )
        uow.commit()
    return changed
