"""Read what ecert embedded in a certificate PDF, from the revision the seal signed.

Never raises on a bad file: a verifier must answer with a verdict, not a crash.
"""

from __future__ import annotations

import logging
from io import BytesIO

from pyhanko.pdf_utils.generic import DictionaryObject
from pyhanko.pdf_utils.reader import PdfFileReader

KEYS = ("/EcertContent", "/EcertQR")


def signed_metadata(pdf: bytes) -> dict[str, str] | None:
    """``{"EcertContent": …, "EcertQR": …}`` from the document info of the signed revision, or None."""
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        sigs = reader.embedded_signatures
        if not sigs:
            return None
        hist = reader.get_historical_resolver(sigs[0].signed_revision)
        info = hist.trailer_view.get("/Info")
        if info is None:
            return None
        info = info.get_object()
        if not isinstance(info, DictionaryObject):
            return None
        out: dict[str, str] = {}
        for key in KEYS:
            if key in info:
                out[key[1:]] = str(info[key])
        return out
    except Exception:  # any parse failure of a hostile file is "no metadata", not a crash
        return None
