"""Interfaces the services need from adapters; bootstrap picks the concrete ones, tests may fake them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from ecert.domain.certificate import CertificateContent


class Renderer(Protocol):
    def missing_characters(self, text: str) -> list[str]:
        """Code points of ``text`` that no shipped font covers (never printed as boxes)."""
        ...

    def render(
        self,
        content: CertificateContent,
        *,
        qr_text: str,
        signature_image: bytes,
        photo: bytes | None,
        metadata: dict[str, str],
    ) -> bytes: ...


class Sealer(Protocol):
    """Applies the seal's PAdES signature (R-DOC-2)."""

    key_id: str  # SHA-256 of the seal certificate, hex

    def seal(self, pdf: bytes, signing_time: datetime) -> bytes: ...


class QrSigner(Protocol):
    kid: str

    def token(self, serial: str, registration_no: str, usage_from: date, usage_until: date, digest: bytes) -> str: ...

    def url(self, token: str) -> str: ...


@dataclass(frozen=True)
class DocumentServices:
    renderer: Renderer
    sealer: Sealer
    qr: QrSigner
