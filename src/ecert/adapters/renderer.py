"""The certificate renderer port, implemented by adapters.documents (ReportLab, embedded CJK fonts)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ecert.adapters.documents.fonts import FontSet
from ecert.adapters.documents.layout import render_certificate
from ecert.domain.certificate import CertificateContent


@dataclass
class ReportLabRenderer:
    fonts: FontSet = field(default_factory=FontSet)

    def missing_characters(self, text: str) -> list[str]:
        return self.fonts.missing(text)

    def render(
        self,
        content: CertificateContent,
        *,
        qr_text: str,
        signature_image: bytes,
        photo: bytes | None,
        metadata: dict[str, str],
    ) -> bytes:
        return render_certificate(
            content,
            qr_text=qr_text,
            signature_image=signature_image,
            photo=photo,
            fonts=self.fonts,
            metadata=metadata,
        )
