"""The seal signature on the e-certificate PDF (R-DOC-2): a PAdES signature whose signer certificate names
中华人民共和国住房和城乡建设部一级建造师行政许可专用章.

- :mod:`.keys` — where the seal key lives (PEM, PKCS#12, PKCS#11 token) → a pyHanko ``Signer``.
- :mod:`.pades` — sign (B-B / B-T, signing time from the app clock) and validate (:class:`.pades.SignatureCheck`).
- :mod:`.hsm` — generate the seal key on a PKCS#11 token, store its certificate, inspect its protection.
- :mod:`.pki` / :mod:`.tsa` — DEMO root, seal certificate and time-stamp authority. NOT FOR PRODUCTION.
"""

from __future__ import annotations

from ecert.adapters.signing.keys import (
    SealKeyConfig,
    SealKeyError,
    TokenSigner,
    close_signer,
    load_signer,
    open_signer,
)
from ecert.adapters.signing.pades import (
    SealSigner,
    SignatureCheck,
    async_sign_pdf,
    async_validate_pdf,
    sign_pdf,
    validate_pdf,
)

__all__ = [
    "SealKeyConfig",
    "SealKeyError",
    "SealSigner",
    "SignatureCheck",
    "TokenSigner",
    "async_sign_pdf",
    "async_validate_pdf",
    "close_signer",
    "load_signer",
    "open_signer",
    "sign_pdf",
    "validate_pdf",
]
