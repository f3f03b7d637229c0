"""Where the keys come from (R-DOC-2, R-DOC-4): the seal key (PEM, PKCS#12 or PKCS#11 token), the
QR token keys (Ed25519, with retired public keys kept for verification) and the trust roots.

Environment (production; read by config.py into ``Settings.keys``, docs/configuration.md)::

    ECERT_KEYS_DIR            directory for the QR keys and, in a demo, the demo PKI (default var/keys)
    ECERT_SEAL_KEY, ECERT_SEAL_CERT [, ECERT_SEAL_CHAIN=a.pem:b.pem, ECERT_SEAL_KEY_PASSWORD]
    ECERT_SEAL_PKCS12, ECERT_SEAL_PKCS12_PASSWORD
    ECERT_PKCS11_MODULE, ECERT_PKCS11_TOKEN, ECERT_PKCS11_PIN, ECERT_PKCS11_KEY_LABEL [, ECERT_SEAL_CERT]
    ECERT_TRUST_ROOTS         PEM files (":"-separated) of seal roots the verifier trusts
    ECERT_SM2_SEAL_KEY, ECERT_SM2_SEAL_CERT, ECERT_SM2_SEAL   the OFD's SM2 seal (R-DOC-6): key, certificate,
                              and the electronic seal (SESeal, DER) the seal maker made for that certificate
    ECERT_SM2_TRUST_ROOTS     PEM files of SM2 roots the OFD verifier trusts (seal makers, seal certificates)
    ECERT_TSA_URL             RFC 3161 time-stamp authority (``demo``: the DEMO TSA in-process, DEMO keys only)
    ECERT_SEAL_PROFILE        PAdES level of the seal: auto (B-T with a TSA, else B-B), B-B, B-T, B-LT, B-LTA
    ECERT_SEAL_CRLS           CRLs of the seal's and TSA's CAs, embedded in B-LT/B-LTA seals and archival updates
    ECERT_BASE_URL            the public verification site printed in the QR code

With none of the seal variables set, ``ecert init`` creates a DEMO PKI in the keys directory and
says loudly that it is a demo (adapters.signing.pki.DEMO_WARNING); with none of the SM2 ones either, a
DEMO SM2 PKI and seal beside it (adapters.signing.sm2.SM2_DEMO_WARNING). A deployment with a real PDF
seal and no SM2 seal issues no OFD (``ofd_unavailable``): it never seals with DEMO SM2 keys.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ecert.adapters.qr_token import generate_key, kid_of
from ecert.adapters.signing import pki, sm2
from ecert.adapters.signing.keys import SealKeyConfig
from ecert.config import KeysSettings
from ecert.domain.errors import EcertError

QR_KEY = "qr-key.pem"
APP_SECRET = "app-secret.key"  # 32 random bytes: keys signed cookies and the TOTP secrets at rest
AUDIT_KEY = "audit-key.pem"  # Ed25519: signs the audit log's checkpoints (R-ACC-1), and nothing else
QR_RETIRED = "qr-retired"
DEMO_MARKER = "DEMO-KEYS-NOT-FOR-PRODUCTION.txt"
SM2_DEMO_SEAL = "sm2-seal.esl"  # the DEMO electronic seal (SESeal, DER) beside the DEMO SM2 PKI
SM2_DEMO_SEAL_ID = "ecert-DEMO-SM2-seal"


@dataclass(frozen=True)
class Sm2SealConfig:
    """The OFD seal (R-DOC-6): the SM2 key (PEM), its certificate, and the seal (SESeal, DER) made for it."""

    key: Path
    cert: Path
    seal: Path


@dataclass(frozen=True)
class KeySettings:
    keys_dir: Path
    seal: SealKeyConfig | None  # None: the demo PKI in keys_dir
    trust_roots: tuple[Path, ...]
    tsa_url: str | None
    base_url: str
    sm2: Sm2SealConfig | None = None
    seal_profile: str = "auto"
    seal_crls: tuple[Path, ...] = ()  # None: the DEMO SM2 PKI in keys_dir, in a demo only
    sm2_trust_roots: tuple[Path, ...] = ()

    @property
    def is_demo(self) -> bool:
        return self.seal is None

    @property
    def sm2_is_demo(self) -> bool:
        """Whether OFDs are sealed with the DEMO SM2 PKI: only where the PDF seal is a DEMO too."""
        return self.sm2 is None and self.is_demo


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
        sm2_parts = (cfg.sm2_seal_key, cfg.sm2_seal_cert, cfg.sm2_seal)
        sm2 = None
        if any(p is not None for p in sm2_parts):
            key, cert, made = sm2_parts
            if key is None or cert is None or made is None:
                raise ValueError(
                    "ECERT_SM2_SEAL_KEY, ECERT_SM2_SEAL_CERT and ECERT_SM2_SEAL go together: set all three"
                )
            sm2 = Sm2SealConfig(key, cert, made)
    except ValueError as exc:
        raise EcertError("bad_keys", params={"reason": str(exc)}) from exc
    return KeySettings(
        keys_dir=cfg.keys_dir,
        seal=seal,
        trust_roots=cfg.trust_roots,
        tsa_url=cfg.tsa_url,
        base_url=cfg.base_url,
        sm2=sm2,
        sm2_trust_roots=cfg.sm2_trust_roots,
        seal_profile=cfg.seal_profile,
        seal_crls=cfg.seal_crls,
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
    sm2_files = (ks.keys_dir / sm2.SM2_SEAL_KEY, ks.keys_dir / SM2_DEMO_SEAL, ks.keys_dir / sm2.SM2_ROOT_CERT)
    if ks.sm2_is_demo and not all(p.exists() for p in sm2_files):
        _create_demo_sm2(ks.keys_dir)  # said by the DEMO notice above, which names the SM2 PKI too
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
    if not (ks.keys_dir / APP_SECRET).exists():
        app_secret(ks)
        notices.append(f"Application secret created: {ks.keys_dir / APP_SECRET}")
    if not (ks.keys_dir / AUDIT_KEY).exists() and _write_new_key(ks.keys_dir / AUDIT_KEY) is not None:
        notices.append(f"audit checkpoint key created: {ks.keys_dir / AUDIT_KEY}")
    return notices


def app_secret(ks: KeySettings, purpose: str = "") -> bytes:
    """The application secret (``APP_SECRET`` in the keys directory, 32 random bytes, mode 0600), or
    a key derived from it for one ``purpose`` (HMAC-SHA256 of the purpose under the secret), so each
    use has its own key: ``"device-cookie"`` (the sign-in's known devices), ``"totp-at-rest"``.
    Made on first use when missing — atomically (written aside, then linked into place), so
    processes starting together agree on one secret. Every process of a deployment must see the
    same keys directory (as for the QR key). Losing it signs every browser out of its "known device"
    standing and makes the stored TOTP secrets unreadable (staff enrol again, README "Security: the holes")."""
    path = (ks.keys_dir / APP_SECRET).absolute()  # cached per absolute path: the working directory may change
    try:
        secret = _app_secret(path)
    except OSError as exc:  # a read-only keys directory without the secret, a permission
        raise EcertError("bad_keys", params={"reason": f"{path}: {exc.strerror or exc} (run ecert init)"}) from exc
    return hmac.new(secret, purpose.encode(), hashlib.sha256).digest() if purpose else secret


@functools.lru_cache(maxsize=8)
def _app_secret(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
        try:
            os.link(tmp, path)  # fails if another process was first: then its secret is the one
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        raw = path.read_bytes()
    if len(raw) < 32:
        raise EcertError("bad_keys", params={"reason": f"{path} holds fewer than 32 bytes"})
    return raw


def _create_demo_sm2(keys_dir: Path) -> None:
    """The DEMO SM2 PKI (root = seal maker, seal certificate) and the DEMO seal made for it, valid from
    the DEMO PDF PKI's start (drills on past dates seal and verify) for 20 years."""
    from ecert.adapters.documents import default_fonts
    from ecert.adapters.documents.ofd_render import seal_picture
    from ecert.adapters.documents.page import MM, SEAL_RADIUS_MM
    from ecert.adapters.signing.ofd_seal import make_seal

    made = sm2.demo_sm2_pki(pki.DEFAULT_NOT_BEFORE + timedelta(days=1), years=20)
    seal = make_seal(
        es_id=SM2_DEMO_SEAL_ID,
        picture_png=seal_picture(SEAL_RADIUS_MM * MM, default_fonts()),
        signer_cert=made.seal,
        maker_key=made.root_key,
        maker_cert=made.root,
        valid_start=made.seal["tbs_certificate"]["validity"]["not_before"].native,
        valid_end=made.seal["tbs_certificate"]["validity"]["not_after"].native,
    )
    made.write(keys_dir)
    (keys_dir / SM2_DEMO_SEAL).write_bytes(seal.dump())


def sm2_seal_config(ks: KeySettings) -> Sm2SealConfig:
    """Where the OFD seal's key, certificate and seal are; ``ofd_unavailable`` when a deployment with a
    real PDF seal has configured no SM2 seal (never the DEMO one there)."""
    if ks.sm2 is not None:
        return ks.sm2
    if not ks.is_demo:
        raise EcertError("ofd_unavailable")
    return Sm2SealConfig(ks.keys_dir / sm2.SM2_SEAL_KEY, ks.keys_dir / sm2.SM2_SEAL_CERT, ks.keys_dir / SM2_DEMO_SEAL)


def sm2_trust_roots(ks: KeySettings) -> list[Any]:
    """SM2 roots the OFD verifier trusts (asn1crypto certificates): ECERT_SM2_TRUST_ROOTS, plus the
    DEMO SM2 root in a demo (when it exists: a keys directory made before OFD has none)."""
    paths = list(ks.sm2_trust_roots)
    demo_root = ks.keys_dir / sm2.SM2_ROOT_CERT
    if ks.sm2_is_demo and demo_root.exists():
        paths.append(demo_root)
    roots: list[Any] = []
    for p in paths:
        try:
            data = p.read_bytes()
        except FileNotFoundError as exc:
            raise _missing("trust_root", p) from exc
        try:
            roots += sm2_roots_from(data)
        except ValueError as exc:
            raise EcertError("bad_keys", params={"reason": f"{p}: {exc}"}) from exc
    return roots


def sm2_roots_from(data: bytes) -> list[Any]:
    """The SM2 root certificates of a PEM (one or more blocks) or DER file; ValueError if unreadable."""
    from asn1crypto import pem  # type: ignore[import-untyped]

    blocks = [der for _, _, der in pem.unarmor(data, multiple=True)] if pem.detect(data) else [data]
    return [sm2.load_certificate(der) for der in blocks]


def sm2_roots_pem(roots: list[Any]) -> bytes:
    """SM2 root certificates (asn1crypto) as PEM, for the offline kit."""
    from asn1crypto import pem

    return b"".join(pem.armor("CERTIFICATE", c.dump()) for c in roots)


def _missing(what: str, path: Path) -> EcertError:
    return EcertError("keys_missing", params={"what": what, "path": str(path)})


def seal_config(ks: KeySettings) -> SealKeyConfig:
    if ks.seal is not None:
        return ks.seal
    key, cert = ks.keys_dir / pki.SEAL_KEY, ks.keys_dir / pki.SEAL_CERT
    if not key.exists():
        raise _missing("seal_key", key)
    return SealKeyConfig.pem(key, cert, (ks.keys_dir / pki.ROOT_CERT,))


def _write_new_key(path: Path) -> Ed25519PrivateKey | None:
    """A new Ed25519 key written to ``path`` (0600), or None if the file appeared meanwhile."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return None  # another process made it first: read theirs
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return key


def audit_private_key(ks: KeySettings) -> Ed25519PrivateKey:
    """The audit key (R-ACC-1: signs the audit log's checkpoints), ``audit-key.pem`` in the keys
    directory; made on first use (by ``ecert init``, or the first sequencer of a deployment made
    before the key existed). Keep it, and back it up, like the QR key: a lost key means checkpoints
    signed from then on are under a new key that relying parties must be given."""
    path = ks.keys_dir / AUDIT_KEY
    if not path.exists():
        made = _write_new_key(path)
        if made is not None:
            return made
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise EcertError("bad_keys", params={"reason": f"{path} is not an Ed25519 key"})
    return key


def audit_log_name(ks: KeySettings) -> str:
    """The audit log's origin and key name in its checkpoints: the public site's host + ``/audit``."""
    from urllib.parse import urlsplit

    host = urlsplit(ks.base_url).netloc or "ecert"
    return f"{host}/audit"


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


DEMO_TSA = "demo"  # ECERT_TSA_URL=demo: the DEMO TSA in-process (adapters/signing/tsa.py), DEMO keys only


def seal_profile(ks: KeySettings) -> str:
    """The PAdES level the seal is made at (ECERT_SEAL_PROFILE; ``auto``: B-T with a TSA, else B-B);
    ``bad_keys`` for a time-stamped level without a TSA."""
    profile = ks.seal_profile
    if profile == "auto":
        return "B-T" if ks.tsa_url else "B-B"
    if profile != "B-B" and not ks.tsa_url:
        raise EcertError("bad_keys", params={"reason": f"ECERT_SEAL_PROFILE={profile} needs ECERT_TSA_URL"})
    return profile


def timestamper(ks: KeySettings, clock: Callable[[], datetime] | None = None) -> Any:
    """The time-stamp authority's client (a pyHanko ``TimeStamper``), or None without ECERT_TSA_URL. ``demo``
    is the DEMO TSA in-process on ``clock`` (the app clock), refused (``bad_keys``) with a real seal key."""
    from pyhanko.sign.timestamps import HTTPTimeStamper

    if not ks.tsa_url:
        return None
    if ks.tsa_url == DEMO_TSA:
        if not ks.is_demo:
            raise EcertError("bad_keys", params={"reason": "ECERT_TSA_URL=demo is for DEMO keys only"})
        from ecert.adapters.signing.tsa import demo_timestamper

        return demo_timestamper(ks.keys_dir, clock=clock)
    return HTTPTimeStamper(ks.tsa_url, timeout=10.0)


def seal_crls(ks: KeySettings) -> list[bytes]:
    """ECERT_SEAL_CRLS as DER (each file DER or PEM, one or more CRLs)."""
    from asn1crypto import pem

    out: list[bytes] = []
    for p in ks.seal_crls:
        try:
            data = p.read_bytes()
        except FileNotFoundError as exc:
            raise _missing("crl", p) from exc
        out += [der for _, _, der in pem.unarmor(data, multiple=True)] if pem.detect(data) else [data]
    return out
