"""The content of an e-certificate (R-DOC-1) and what binds the document to it.

``CertificateContent`` is everything printed; its canonical JSON is embedded in the signed PDF and
its SHA-256 (the content digest) is bound into the QR token and the issuance record, so the
verifier can tell that a QR code, a PDF and a record belong together.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

ISSUER = "中华人民共和国住房和城乡建设部"
TITLE = "中华人民共和国一级建造师注册证书"
SEAL_NAME = "中华人民共和国住房和城乡建设部一级建造师行政许可专用章"


def mask_id_number(id_number: str) -> str:
    """R-DOC-1, R-ACC-1: the printed and public ID number keeps the first 6 and last 4 characters."""
    if len(id_number) < 10:
        return "*" * len(id_number)
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]


@dataclass(frozen=True, slots=True)
class PrintedSpecialty:
    specialty: str
    valid_until: date


@dataclass(frozen=True, slots=True)
class CertificateContent:
    serial: str  # random, not enumerable (R-DOC-4)
    identifier: str  # GB/T 36904 e-licence identifier (R-DOC-3)
    registration_no: str
    name: str
    gender: str
    birth_date: date
    id_number_masked: str
    employer_name: str
    employer_uscc: str
    specialties: tuple[PrintedSpecialty, ...]
    usage_from: date
    usage_until: date
    issue_date: date
    data_version: int
    issuer: str = ISSUER

    def as_dict(self) -> dict[str, Any]:
        return {
            "v": 1,
            "serial": self.serial,
            "identifier": self.identifier,
            "registration_no": self.registration_no,
            "name": self.name,
            "gender": self.gender,
            "birth_date": self.birth_date.isoformat(),
            "id_number": self.id_number_masked,
            "employer_name": self.employer_name,
            "employer_uscc": self.employer_uscc,
            "specialties": [[s.specialty, s.valid_until.isoformat()] for s in self.specialties],
            "usage_from": self.usage_from.isoformat(),
            "usage_until": self.usage_until.isoformat(),
            "issue_date": self.issue_date.isoformat(),
            "data_version": self.data_version,
            "issuer": self.issuer,
        }

    def canonical_json(self) -> bytes:
        return json.dumps(self.as_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")

    def digest(self) -> bytes:
        return hashlib.sha256(self.canonical_json()).digest()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CertificateContent:
        """Parse what :meth:`as_dict` wrote; raises ValueError/KeyError/TypeError on anything else."""
        if d.get("v") != 1:
            raise ValueError("unknown certificate content version")
        return cls(
            serial=str(d["serial"]),
            identifier=str(d["identifier"]),
            registration_no=str(d["registration_no"]),
            name=str(d["name"]),
            gender=str(d["gender"]),
            birth_date=date.fromisoformat(d["birth_date"]),
            id_number_masked=str(d["id_number"]),
            employer_name=str(d["employer_name"]),
            employer_uscc=str(d["employer_uscc"]),
            specialties=tuple(PrintedSpecialty(str(s), date.fromisoformat(u)) for s, u in d["specialties"]),
            usage_from=date.fromisoformat(d["usage_from"]),
            usage_until=date.fromisoformat(d["usage_until"]),
            issue_date=date.fromisoformat(d["issue_date"]),
            data_version=int(d["data_version"]),
            issuer=str(d["issuer"]),
        )


@dataclass(frozen=True)
class CertificateRecord:
    """The issuance record of one certificate (serial, data version, digest, key ids, window,
    confirmation): what the registry keeps to tell later that a document is one it issued (R-DOC-2)."""

    serial: str
    registration_no: str
    data_version: int
    identifier: str
    usage_from: date
    usage_until: date
    issue_date: date
    content_digest: str
    seal_key_id: str
    qr_kid: str
    confirmed_by: str
    confirmed_at: datetime
    issued_at: datetime
