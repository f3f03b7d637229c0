"""Preview and issue e-certificates (R-USE-1, R-USE-2, R-USE-4, R-DOC-1, R-DOC-2, R-DOC-3, R-DOC-4, R-DOC-6).

``issue`` is one transaction: the confirmation, the issuance record and the audit event are
committed together, after the sealed files exist; the files are moved into place only after the
commit. A crash at any point leaves no record without a document and no document without a record.
One issuance may give the PDF, the OFD (R-DOC-6) or both: one serial, one content, one QR token, one
record and one audit event for both files.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ecert.adapters.files import output_problem
from ecert.adapters.qr_token import serial_from_bytes
from ecert.domain import ids
from ecert.domain.certificate import CertificateContent, CertificateRecord, PrintedSpecialty, mask_id_number
from ecert.domain.errors import BadInput, EcertError, RuleRefusal, problem
from ecert.domain.model import Registration, SpecialtyRegistration, UsageWindow
from ecert.domain.policy import Policy
from ecert.domain.rules.usage import usage_window
from ecert.services.ports import DocumentServices, QrSigner
from ecert.services.registry import get_registration, get_registration_with_images
from ecert.services.unit_of_work import AbstractUnitOfWork


class WindowChanged(RuleRefusal):
    """R-USE-1: the window the holder confirmed is not the one a download gets now (the page was
    open past midnight, or the data changed): the new window must be confirmed."""

    def __init__(self, window: UsageWindow) -> None:
        super().__init__(
            "confirmation_required",
            rule="R-USE-1",
            params={"usage_from": window.usage_from.isoformat(), "usage_until": window.usage_until.isoformat()},
        )

    def message(self, lang: str = "zh") -> str:
        f, u = self.params["usage_from"], self.params["usage_until"]
        if lang == "en":
            return f"The usage window is now {f} to {u}: confirm the new window"
        return f"使用有效期已变为 {f} 至 {u},请确认新的使用有效期"


@dataclass(frozen=True)
class IssuedCertificate:
    serial: str
    identifier: str
    usage_from: date
    usage_until: date
    specialties: tuple[PrintedSpecialty, ...]
    qr: str
    pdf: bytes | None  # None when only the OFD was asked for
    ofd: bytes | None = None  # R-DOC-6, when asked for

    def as_dict(self) -> dict[str, Any]:
        window = _window_dict(self.usage_from, self.usage_until, self.specialties)
        return {"serial": self.serial, "identifier": self.identifier, **window, "qr": self.qr}


def window_view(window: UsageWindow) -> dict[str, Any]:
    return _window_dict(window.usage_from, window.usage_until, window.specialties)


def _window_dict(
    usage_from: date, usage_until: date, specialties: Iterable[PrintedSpecialty | SpecialtyRegistration]
) -> dict[str, Any]:
    """A usage window as the CLI and the API print it (dates as ISO text), a certificate's or a preview's."""
    return {
        "usage_from": usage_from.isoformat(),
        "usage_until": usage_until.isoformat(),
        "specialties": [{"specialty": s.specialty, "valid_until": s.valid_until.isoformat()} for s in specialties],
    }


def qr_text_of(record: CertificateRecord, qr: QrSigner) -> str | None:
    """The QR text of an issued certificate, derived again from its record (R-DOC-4): the token is
    the same, as Ed25519 signatures are deterministic (RFC 8032); the URL has today's base URL.
    None if the certificate's QR was signed with another key than ``qr``'s."""
    if record.qr_kid != qr.kid:
        return None
    digest = bytes.fromhex(record.content_digest)
    return qr.url(qr.token(record.serial, record.registration_no, record.usage_from, record.usage_until, digest))


def preview(uow: AbstractUnitOfWork, registration_no: str, *, today: date, policy: Policy) -> UsageWindow:
    """R-USE-1: the window a download would get today, to be shown before confirming."""
    with uow:
        reg = get_registration(uow, registration_no)
        return usage_window(reg, today, policy)


def new_serial() -> str:
    """80 random bits as 16 Base32 characters (R-DOC-4: not guessable, not enumerable)."""
    return serial_from_bytes(secrets.token_bytes(10))


def build_content(
    reg: Registration, window: UsageWindow, *, serial: str, today: date, data_version: int, policy: Policy
) -> CertificateContent:
    identifier = ids.make_elicence_id(
        policy.certificate_type_code, policy.issuer_uscc, serial, policy.identifier_version
    )
    return CertificateContent(
        serial=serial,
        identifier=identifier,
        registration_no=reg.registration_no,
        name=reg.person.name,
        gender=reg.person.gender.value,
        birth_date=reg.person.birth_date,
        id_number_masked=mask_id_number(reg.person.id_number),
        employer_name=reg.employer.name,
        employer_uscc=reg.employer.uscc,
        specialties=tuple(PrintedSpecialty(s.specialty, s.valid_until) for s in window.specialties),
        usage_from=window.usage_from,
        usage_until=window.usage_until,
        issue_date=today,
        data_version=data_version,
    )


FORMATS = ("pdf", "ofd")  # the files one issuance can give: the PAdES PDF, the OFD (R-DOC-6)


def check_formats(formats: Sequence[str], docs: DocumentServices) -> tuple[str, ...]:
    """The formats asked for, in :data:`FORMATS` order; ``bad_input`` for an unknown one or none, and
    the reason no OFD can be made (``ofd_unavailable``, ``keys_missing`` …) when one is asked for."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise BadInput(
            [problem(f"未知的文件格式:{', '.join(unknown) or '(空)'}(可选 pdf、ofd)",
                     f"Unknown file format: {', '.join(unknown) or '(none)'} (pdf or ofd)", column="format")]
        )  # fmt: skip
    if "ofd" in formats and docs.ofd is None:
        why = docs.ofd_problem
        raise why if isinstance(why, EcertError) else EcertError("ofd_unavailable")
    return tuple(f for f in FORMATS if f in formats)


def issue(
    uow: AbstractUnitOfWork,
    registration_no: str,
    *,
    confirm: bool,
    actor: str,
    today: date,
    now: datetime,
    policy: Policy,
    docs: DocumentServices,
    out: Path | Callable[[str], Path] | None = None,
    expected_window: tuple[date | None, date | None] | None = None,
    formats: Sequence[str] = ("pdf",),
    ofd_out: Path | Callable[[str], Path] | None = None,
) -> IssuedCertificate:
    """Confirm the usage window and issue a sealed certificate (R-USE-1, R-USE-2) as the files of
    ``formats`` (``out``: where the PDF goes, ``ofd_out``: the OFD; both optional, each a path or a function
    of the new serial that gives it). A file is written before the commit and moved into place after it:
    one that cannot be written (the disk is full) is ``out_write_failed`` and nothing is recorded.

    ``expected_window``: the window the holder saw and confirmed; if today's differs (the page was
    open past midnight, the data changed) nothing is issued — the holder confirms the new one.
    """
    formats = check_formats(formats, docs)
    with uow:
        reg, images = get_registration_with_images(uow, registration_no)  # one read (issue 15)
        window = usage_window(reg, today, policy)  # raises the R-USE-4 refusal, in its order
        if not confirm:
            raise RuleRefusal("confirmation_required", rule="R-USE-1")
        if expected_window is not None and expected_window != (window.usage_from, window.usage_until):
            raise WindowChanged(window)
        missing = docs.renderer.missing_characters(reg.person.name + reg.employer.name)
        if missing:
            raise RuleRefusal("unsupported_character", rule="R-DOC-1", params={"chars": " ".join(missing)})
        if "signature" not in images:  # also checked by the rules; the image must really be there
            raise RuleRefusal("signature_missing", rule="R-USE-4")
        serial = new_serial()
        content = build_content(
            reg,
            window,
            serial=serial,
            today=today,
            data_version=reg.data_version,  # read with the registration, in this transaction (R-CHG-1)
            policy=policy,
        )
        digest = content.digest()
        token = docs.qr.token(serial, reg.registration_no, window.usage_from, window.usage_until, digest)
        qr_text = docs.qr.url(token)
        metadata = {"EcertContent": content.canonical_json().decode("utf-8"), "EcertQR": qr_text}
        sealed: bytes | None = None
        if "pdf" in formats:
            pdf = docs.renderer.render(
                content, qr_text=qr_text, signature_image=images["signature"], photo=images.get("photo"),
                metadata=metadata,
            )  # fmt: skip
            sealed = docs.sealer.seal(pdf, now)
        ofd: bytes | None = None
        if docs.ofd is not None and "ofd" in formats:  # R-DOC-6: the same content, serial and QR token
            ofd = docs.ofd.make(
                content, qr_text=qr_text, signature_image=images["signature"], photo=images.get("photo"),
                metadata=metadata, signing_time=now,
            )  # fmt: skip
        row_digest = uow.certificates.add(
            CertificateRecord(
                serial=serial,
                registration_no=reg.registration_no,
                data_version=content.data_version,
                identifier=content.identifier,
                usage_from=window.usage_from,
                usage_until=window.usage_until,
                issue_date=today,
                content_digest=digest.hex(),
                seal_key_id=docs.sealer.key_id,
                qr_kid=docs.qr.kid,
                confirmed_by=actor,
                confirmed_at=now,
                issued_at=now,
            )
        )
        payload = {
            "serial": serial,
            "identifier": content.identifier,
            "confirmed_window": [window.usage_from.isoformat(), window.usage_until.isoformat()],
            "data_version": content.data_version,
            "content_digest": digest.hex(),
            "row_sha256": row_digest,  # the certificate row as written: the audit check compares (R-ACC-1)
        }
        if formats != ("pdf",):  # the PDF-only payload stays as it always was
            payload["formats"] = list(formats)
            if ofd is not None and docs.ofd is not None:
                payload["ofd_seal_key_id"] = docs.ofd.key_id
        uow.audit.append(at=now, actor=actor, action="certificate.issue", subject=reg.registration_no, payload=payload)
        moves: list[tuple[Path, Path]] = []
        try:
            for data, where in ((sealed, out), (ofd, ofd_out)):
                if data is None or where is None:
                    continue
                dest = where(serial) if callable(where) else where
                tmp = dest.with_name(f".{dest.name}.{serial}.tmp")
                try:
                    tmp.write_bytes(data)
                except OSError as exc:  # before the commit: nothing is recorded
                    raise BadInput([output_problem(dest, exc)]) from exc
                moves.append((tmp, dest))
            uow.commit()
        except BaseException:
            for tmp, _ in moves:
                with contextlib.suppress(OSError):
                    tmp.unlink()
            raise
        for tmp, dest in moves:
            os.replace(tmp, dest)
    return IssuedCertificate(
        serial=serial,
        identifier=content.identifier,
        usage_from=window.usage_from,
        usage_until=window.usage_until,
        specialties=content.specialties,
        qr=qr_text,
        pdf=sealed,
        ofd=ofd,
    )
