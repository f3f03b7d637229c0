"""The offline verification kit (issue 14 item 2): the directory ``ecert keys export-bundle`` writes and
``ecert verify … --offline --bundle DIR`` reads — no database, nothing fetched.

Files: ``jwks.json`` (the QR/attestation public keys, current and retired: adapters/signing/jws.py),
``seal-roots.pem`` (the PDF seal roots), ``sm2-roots.pem`` (the SM2 seal roots of OFD files, when
configured), ``status-list.jws`` (the signed status list: adapters/status_list.py).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ecert.adapters import keystore
from ecert.adapters import status_list as fmt
from ecert.adapters.qr_token import kid_of
from ecert.domain.errors import BadInput, problem
from ecert.domain.status_list import ListAnswer
from ecert.domain.verification import ReasonCode

JWKS = "jwks.json"
SEAL_ROOTS = "seal-roots.pem"
SM2_ROOTS = "sm2-roots.pem"
STATUS_LIST = "status-list.jws"
MAX_FILE = 32 * 1024 * 1024


def _bad(zh: str, en: str, path: Path) -> BadInput:
    return BadInput([problem(zh, en, column=str(path))])


def public_keys(jwks: Any) -> dict[str, Ed25519PublicKey]:
    """The Ed25519 keys of a JWK Set, by kid (the kid each key's bytes give, adapters/qr_token.py:
    a JWKS entry whose ``kid`` is not its key's is left out). Other key types are ignored."""
    keys: dict[str, Ed25519PublicKey] = {}
    for jwk in jwks.get("keys", []) if isinstance(jwks, dict) else []:
        if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            continue
        try:
            x = str(jwk["x"])
            key = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)))
        except (KeyError, ValueError):
            continue
        if jwk.get("kid") == kid_of(key):
            keys[kid_of(key)] = key
    return keys


@dataclass(frozen=True)
class OfflineKit:
    """A kit as read from its directory: the keys, the roots, and the verified status list (or why it
    was refused)."""

    keys: dict[str, Ed25519PublicKey]
    seal_roots: list[x509.Certificate]
    sm2_roots: list[Any]
    status: fmt.StatusList | None
    problem: ReasonCode | None

    def answer(self, serial: str) -> ListAnswer:
        """What the kit's status list says about ``serial``."""
        if self.status is None:
            return ListAnswer(problem=self.problem or ReasonCode.STATUS_LIST_MISSING)
        s = self.status
        return ListAnswer(s.status_of(serial), s.issued_at, s.next_update)

    def list_answer(self) -> ListAnswer:
        """The list's dates or problem, for a verdict that never reached the status (a bad token)."""
        if self.status is None:
            return ListAnswer(problem=self.problem or ReasonCode.STATUS_LIST_MISSING)
        return ListAnswer(None, self.status.issued_at, self.status.next_update)


def _read(path: Path) -> bytes:
    if path.stat().st_size > MAX_FILE:
        raise _bad(f"文件过大:{path}", f"File too large: {path}", path)
    return path.read_bytes()


def load(directory: Path) -> OfflineKit:
    """Read the kit in ``directory``. A missing or unreadable ``jwks.json`` is bad input (nothing can be
    verified); a missing, truncated or foreign status list is a kit whose status answers are refused."""
    if not directory.is_dir():
        raise _bad(
            f"离线核验包目录不存在:{directory}", f"The offline kit directory does not exist: {directory}", directory
        )
    jwks_path = directory / JWKS
    try:
        keys = public_keys(json.loads(_read(jwks_path)))
    except FileNotFoundError as exc:
        raise _bad(f"离线核验包缺少 {JWKS}", f"The offline kit has no {JWKS}", jwks_path) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad(f"{JWKS} 不是 JWK Set", f"{JWKS} is not a JWK Set", jwks_path) from exc
    if not keys:
        raise _bad(f"{JWKS} 中没有 Ed25519 公钥", f"{JWKS} holds no Ed25519 key", jwks_path)
    seal_roots: list[x509.Certificate] = []
    sm2_roots: list[Any] = []
    try:
        if (directory / SEAL_ROOTS).exists():
            seal_roots = x509.load_pem_x509_certificates(_read(directory / SEAL_ROOTS))
        if (directory / SM2_ROOTS).exists():
            sm2_roots = keystore.sm2_roots_from(_read(directory / SM2_ROOTS))
    except ValueError as exc:
        raise _bad(
            "离线核验包中的根证书无法读取", f"A root certificate of the kit cannot be read: {exc}", directory
        ) from exc
    status: fmt.StatusList | None = None
    code: ReasonCode | None = None
    try:
        status = fmt.verify(_read(directory / STATUS_LIST).decode("ascii", errors="replace"), keys)
    except FileNotFoundError:
        code = ReasonCode.STATUS_LIST_MISSING
    except fmt.StatusListError as exc:
        code = ReasonCode(exc.code)
    return OfflineKit(keys, seal_roots, sm2_roots, status, code)
