"""Where the keys come from (R-DOC-2, R-DOC-4): the seal key (PEM, PKCS#12 or PKCS#11 token), the
QR token keys (Ed25519, with retired public keys kept for verification) and the trust roots.

Environment (production; read by config.py into ``Settings.keys``, docs/configuration.md)::

    ECERT_KEYS_DIR            directory for the QR keys and, in a demo, the demo PKI (default var/keys)
    ECERT_SEAL_KEY, ECERT_SEAL_CERT [, ECERT_SEAL_CHAIN=a.pem:b.pem, ECERT_SEAL_KEY_PASSWORD]
    ECERT_SEAL_PKCS12, ECERT_SEAL_PKCS12_PASSWORD
    ECERT_PKCS11_MODULE, ECERT_PKCS11_TOKEN, ECERT_PKCS11_PIN, ECERT_PKCS11_KEY_LABEL [, ECERT_SEAL_CERT]
    ECERT_TRUST_ROOTS         PEM files (":"-separated) of seal roots the verifier trusts
    ECERT_TSA_URL             RFC 3161 time-stamp authority: signatures become PAdES B-T
    ECERT_BASE_URL            the public verification site printed in the QR code

With none of the seal variables set, ``ecert init`` creates a DEMO PKI in the keys directory and
says loudly that it is a demo (adapters.signing.pki.DEMO_WARNING).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ecert.adapters.qr_token import generate_key, kid_of
from ecert.adapters.signing import pki
from ecert.adapters.signing.keys import SealKeyConfig
from ecert.config import KeysSettings
from ecert.domain.errors import EcertError

QR_KEY = "qr-key.pem"
QR_RETIRED = "qr-retired"
DEMO_MARKER = "DEMO-KEYS-NOT-FOR-PRODUCTION.txt"


@dataclass(frozen=True)
class KeySettings:
    keys_dir: Path
    seal: SealKeyConfig | None  # None: the demo PKI in keys_dir
    trust_roots: tuple[Path, ...]
    tsa_url: str | None
    base_url: str

    @property
    def is_demo(self) -> bool:
        return self.seal is None


def key_settings(cfg: KeysSettings) -> KeySettings:
    """The keys as configured (config.py ``Settings.keys``); ``bad_keys`` for a combination that
    does not go together. The PKCS#11 token wins over a PKCS#12 file, which wins over PEM files."""
    chain = cfg.seal_chain
    seal: SealKeyConfig | None = None
    try:
        if cfg.pkcs11_module is not None:
            seal = SealKeyConfig.pkcs11(
                cfg.pkcs11_module,
                cfg.pkcs11_token,
                cfg.pkcs11_pin,
                cfg.pkcs11_key_label,
                cert_file=cfg.seal_cert,
                chain_files=chain,
            )
        elif cfg.seal_pkcs12 is not None:
            pw = cfg.seal_pkcs12_password
            seal = SealKeyConfig.pkcs12(cfg.seal_pkcs12, pw.encode() if pw else None, chain)
        elif cfg.seal_key is not None or cfg.seal_cert is not None:
            if cfg.seal_key is None or cfg.seal_cert is None:
                raise ValueError("ECERT_SEAL_KEY and ECERT_SEAL_CERT go together: set both")
            pw = cfg.seal_key_password
            seal = SealKeyConfig.pem(cfg.seal_key, cfg.seal_cert, chain, key_password=pw.encode() if pw else None)
    except ValueError as exc:
        raise EcertError("bad_keys", params={"reason": str(exc)}) from exc
    return KeySettings(
        keys_dir=cfg.keys_dir, seal=seal, trust_roots=cfg.trust_roots, tsa_url=cfg.tsa_url, base_url=cfg.base_url
    )


def key_settings_from_env(env: Mapping[str, str]) -> KeySettings:
    """The keys from a mapping of ``ECERT_*`` variables (tests and benchmarks give their own)."""
    return key_settings(KeysSettings.from_environ(env))


def ensure_keys(ks: KeySettings) -> list[str]:
    """Create what is missing: the QR key, and — only when no seal key is configured — a DEMO PKI.
    Returns notices for people (the demo warning first)."""
    notices: list[str] = []
    ks.keys_dir.mkdir(parents=True, exist_ok=True)
    if ks.is_demo and not (ks.keys_dir / pki.SEAL_KEY).exists():
        made = pki.create_demo_pki(ks.keys_dir)
        (ks.keys_dir / DEMO_MARKER).write_text(pki.DEMO_WARNING + "\n", encoding="utf-8")
        notices.append(f"*** {pki.DEMO_WARNING} *** ({made.directory})")
    elif ks.is_demo:
        notices.append(f"*** {pki.DEMO_WARNING} *** ({ks.keys_dir})")
    qr = ks.keys_dir / QR_KEY
    if not qr.exists():
        key = generate_key()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(qr, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        notices.append(f"QR token key created: {qr} (kid {kid_of(key.public_key())})")
    return notices


def _missing(what: str, path: Path) -> EcertError:
    return EcertError("keys_missing", params={"what": what, "path": str(path)})


def seal_config(ks: KeySettings) -> SealKeyConfig:
    if ks.seal is not None:
        return ks.seal
    key, cert = ks.keys_dir / pki.SEAL_KEY, ks.keys_dir / pki.SEAL_CERT
    if not key.exists():
        raise _missing("seal_key", key)
    return SealKeyConfig.pem(key, cert, (ks.keys_dir / pki.ROOT_CERT,))


def qr_private_key(ks: KeySettings) -> Ed25519PrivateKey:
    path = ks.keys_dir / QR_KEY
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise _missing("qr_key", path) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise EcertError("bad_keys", params={"reason": f"{path} is not an Ed25519 key"})
    return key


def qr_public_keys(ks: KeySettings) -> dict[str, Ed25519PublicKey]:
    """The current QR key and every retired one (PEM public or private keys in qr-retired/)."""
    keys: dict[str, Ed25519PublicKey] = {}
    current = ks.keys_dir / QR_KEY
    if current.exists():
        pub = qr_private_key(ks).public_key()
        keys[kid_of(pub)] = pub
    retired = ks.keys_dir / QR_RETIRED
    for p in sorted(retired.glob("*.pem")) if retired.is_dir() else []:
        data = p.read_bytes()
        k = (
            serialization.load_pem_private_key(data, None).public_key()
            if b"PRIVATE" in data
            else serialization.load_pem_public_key(data)
        )
        if isinstance(k, Ed25519PublicKey):
            keys[kid_of(k)] = k
    return keys


def trust_roots(ks: KeySettings) -> list[x509.Certificate]:
    """Seal roots the verifier trusts: ECERT_TRUST_ROOTS, plus the demo root in a demo."""
    paths = list(ks.trust_roots)
    if ks.is_demo:
        paths.append(ks.keys_dir / pki.ROOT_CERT)
    roots: list[x509.Certificate] = []
    for p in paths:
        try:
            roots += x509.load_pem_x509_certificates(p.read_bytes())
        except FileNotFoundError as exc:
            raise _missing("trust_root", p) from exc
    return roots


def root_pem(ks: KeySettings) -> bytes:
    """What ``ecert keys export-root`` writes: the trust root(s) in PEM."""
    from cryptography.hazmat.primitives.serialization import Encoding

    return b"".join(c.public_bytes(Encoding.PEM) for c in trust_roots(ks))
