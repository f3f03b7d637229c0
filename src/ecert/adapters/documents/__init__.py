"""The certificate document: the page, its two renderers, fonts, QR code and the visible seal (R-DOC-1, R-DOC-2,
R-DOC-4, R-DOC-5). :mod:`.page` says what is drawn where; :mod:`.fast_render` (fast, what issuance uses) and
:mod:`.reportlab_render` (the ReportLab reference) paint it.

``CertificateRenderer`` is the adapter the services use (``ecert.services.ports.Renderer``); it renders
the *unsigned* PDF — the signing adapter adds the PAdES seal signature afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping

from ecert.adapters.documents.fast_render import render_fast
from ecert.adapters.documents.fonts import FontFilesMissing, FontSet, default_fonts
from ecert.adapters.documents.page import cn_date, prepare_inputs
from ecert.adapters.documents.qr import draw_qr, qr_matrix
from ecert.adapters.documents.reportlab_render import render_certificate
from ecert.adapters.documents.seal_image import draw_seal
from ecert.domain.certificate import CertificateContent

__all__ = [
    "CertificateRenderer",
    "FontFilesMissing",
    "FontSet",
    "cn_date",
    "default_fonts",
    "draw_qr",
    "draw_seal",
    "qr_matrix",
    "render_certificate",
]


class CertificateRenderer:
    """Renders certificates with one FontSet (default: the Debian fonts, loaded once per process).

    ``fast`` (the default) writes the PDF directly (:mod:`.fast_render`, about 1 ms); ``fast=False``
    draws the same page through ReportLab (:func:`.reportlab_render.render_certificate`, the reference the
    fast writer is tested against). ``demo`` puts the DEMO mark on every page
    (:func:`.page.paint_demo_mark`); the composition root sets it when the seal key is a DEMO one.
    """

    def __init__(self, fonts: FontSet | None = None, *, fast: bool = True, demo: bool = False) -> None:
        self.fonts = fonts if fonts is not None else default_fonts()
        self.fast = fast
        self.demo = demo

    def missing_characters(self, text: str) -> list[str]:
        """Code points (``"U+2A6A5"``) of ``text`` that no certificate font covers, each once."""
        return self.fonts.missing(text)

    def render(
        self,
        content: CertificateContent,
        *,
        qr_text: str,
        signature_image: bytes,
        photo: bytes | None,
        metadata: Mapping[str, str] | None = None,
    ) -> bytes:
        if self.fast:
            signature, portrait = prepare_inputs(content, signature_image, photo, self.fonts)
            return render_fast(content, qr_text, signature, portrait, self.fonts, dict(metadata or {}), self.demo)
        return render_certificate(
            content,
            qr_text=qr_text,
            signature_image=signature_image,
            photo=photo,
            fonts=self.fonts,
            metadata=metadata,
            demo=self.demo,
        )
