"""Where the seal key lives (R-DOC-2): PEM files, a PKCS#12 file, or a PKCS#11 token (HSM).

``load_signer(cfg)`` turns a :class:`SealKeyConfig` into a pyHanko ``Signer``. File keys give a
``SimpleSigner``; a token gives a :class:`TokenSigner` (a ``PKCS11Signer`` owning an open, logged-in
session that is reused for every signature — close it with ``close()`` or use it as a context manager).
With PKCS#11 the private key never leaves the token: only the to-be-signed digest goes in and the signature
comes out (pyHanko asks the token for ``CKM_ECDSA``/``CKM_RSA_PKCS`` with the key handle).

:func:`open_signer` is the one-liner for all three kinds: ``with open_signer(cfg) as signer: ...``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, cast

from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import serialization
from pyhanko.keys import load_certs_from_pemder_data, load_private_key_from_pemder
from pyhanko.sign.pkcs11 import PKCS11Signer
from pyhanko.sign.signers import Signer, SimpleSigner
from pyhanko_certvalidator.registry import SimpleCertificateStore

from ecert.adapters.signing.hsm import needs_raw_mechanism, open_session

KeyKind = Literal["pem", "pkcs12", "pkcs11"]


class SealKeyError(Exception):
    """The seal key or certificate could not be loaded (message says which and why; never the secret)."""


def _blank(value: object) -> bool:
    return value is None or value == "" or (isinstance(value, Path) and str(value) in ("", "."))


@dataclass(frozen=True)
class SealKeyConfig:
    """One of three key sources; build with :meth:`pem`, :meth:`pkcs12` or :meth:`pkcs11`.

    - ``pem``: ``key_file`` + ``cert_file`` (+ ``chain_files``; ``key_password`` if the key is encrypted).
    - ``pkcs12``: ``pkcs12_file`` + ``pkcs12_password`` (+ ``chain_files`` for CA certificates not inside).
    - ``pkcs11``: ``pkcs11_module`` + ``token_label`` + ``pin`` + ``key_label``; the certificate comes from
      the token (``cert_label``, default the key label) or from ``cert_file``; ``chain_files`` add CA certs.
      ``pkcs11_raw_mechanism``: hash on the host and let the token sign the digest (None = only when the token
      lacks CKM_ECDSA_SHA256 / CKM_SHA256_RSA_PKCS, e.g. SoftHSM2 for EC keys).
    """

    kind: KeyKind
    key_file: Path | None = None
    cert_file: Path | None = None
    chain_files: tuple[Path, ...] = ()
    key_password: bytes | None = field(default=None, repr=False)
    pkcs12_file: Path | None = None
    pkcs12_password: bytes | None = field(default=None, repr=False)
    pkcs11_module: Path | None = None
    token_label: str | None = None
    pin: str | None = field(default=None, repr=False)
    key_label: str | None = None
    cert_label: str | None = None
    pkcs11_raw_mechanism: bool | None = None  # None: hash on the host only if the token can't hash-and-sign

    def __post_init__(self) -> None:
        required: dict[KeyKind, tuple[str, ...]] = {
            "pem": ("key_file", "cert_file"),
            "pkcs12": ("pkcs12_file",),
            "pkcs11": ("pkcs11_module", "token_label", "key_label"),
        }
        if self.kind not in required:
            raise ValueError(f"unknown seal key kind {self.kind!r}")
        missing = [name for name in required[self.kind] if _blank(getattr(self, name))]
        if missing:
            raise ValueError(f"seal key kind {self.kind!r} needs {', '.join(missing)}")

    @classmethod
    def pem(
        cls, key_file: Path, cert_file: Path, chain_files: Sequence[Path] = (), *, key_password: bytes | None = None
    ) -> SealKeyConfig:
        return cls(
            "pem", key_file=key_file, cert_file=cert_file, chain_files=tuple(chain_files), key_password=key_password
        )

    @classmethod
    def pkcs12(cls, pkcs12_file: Path, password: bytes | None, chain_files: Sequence[Path] = ()) -> SealKeyConfig:
        return cls("pkcs12", pkcs12_file=pkcs12_file, pkcs12_password=password, chain_files=tuple(chain_files))

    @classmethod
    def pkcs11(
        cls,
        module: Path,
        token_label: str,
        pin: str | None,
        key_label: str,
        *,
        cert_label: str | None = None,
        cert_file: Path | None = None,
        chain_files: Sequence[Path] = (),
        raw_mechanism: bool | None = None,
    ) -> SealKeyConfig:
        return cls(
            "pkcs11",
            pkcs11_raw_mechanism=raw_mechanism,
            pkcs11_module=module,
            token_label=token_label,
            pin=pin,
            key_label=key_label,
            cert_label=cert_label,
            cert_file=cert_file,
            chain_files=tuple(chain_files),
        )


class TokenSigner(PKCS11Signer):
    """A ``PKCS11Signer`` that owns its PKCS#11 session: reuse it for many signatures, then ``close()``."""

    def __init__(self, session: Any, **kwargs: Any) -> None:
        super().__init__(session, **kwargs)
        self._owned_session = session
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):
                self._owned_session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _store(certs: Sequence[asn1_x509.Certificate]) -> SimpleCertificateStore:
    store = SimpleCertificateStore()  # type: ignore[no-untyped-call]  # pyhanko-certvalidator: unannotated __init__
    store.register_multiple(certs)
    return store


def _load_certs(path: Path) -> list[asn1_x509.Certificate]:
    """All certificates in a PEM (one or more) or DER file."""
    return list(load_certs_from_pemder_data(path.read_bytes()))


def _load_chain(files: Sequence[Path]) -> list[asn1_x509.Certificate]:
    try:
        return [c for f in files for c in _load_certs(f)]
    except (OSError, ValueError, TypeError) as e:
        raise SealKeyError(f"cannot load CA chain from {[str(f) for f in files]}: {e}") from e


def _key_matches(key: Any, cert: asn1_x509.Certificate) -> bool:
    private = serialization.load_der_private_key(key.dump(), password=None)
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return bool(public == cert.public_key.dump())


def _load_pem(cfg: SealKeyConfig) -> Signer:
    assert cfg.key_file is not None and cfg.cert_file is not None
    try:
        key = load_private_key_from_pemder(str(cfg.key_file), passphrase=cfg.key_password)
    except (OSError, ValueError, TypeError) as e:
        raise SealKeyError(f"cannot load seal key {cfg.key_file}: {type(e).__name__}") from e
    try:
        certs = _load_certs(cfg.cert_file)
    except (OSError, ValueError, TypeError) as e:
        raise SealKeyError(f"cannot load seal certificate {cfg.cert_file}: {e}") from e
    if not certs:
        raise SealKeyError(f"no certificate in {cfg.cert_file}")
    if not _key_matches(key, certs[0]):
        raise SealKeyError(f"seal key {cfg.key_file} does not belong to certificate {cfg.cert_file}")
    # A cert file may carry the chain after the leaf (fullchain.pem style).
    chain = certs[1:] + _load_chain(cfg.chain_files)
    return SimpleSigner(signing_cert=certs[0], signing_key=key, cert_registry=_store(chain))


def _load_pkcs12(cfg: SealKeyConfig) -> Signer:
    assert cfg.pkcs12_file is not None
    try:
        data = cfg.pkcs12_file.read_bytes()
    except OSError as e:
        raise SealKeyError(f"cannot read PKCS#12 file {cfg.pkcs12_file}: {e}") from e
    try:
        signer = SimpleSigner.load_pkcs12_data(
            data, other_certs=_load_chain(cfg.chain_files), passphrase=cfg.pkcs12_password
        )
    except ValueError as e:
        raise SealKeyError(f"cannot load PKCS#12 file {cfg.pkcs12_file} (wrong password?)") from e
    return cast(Signer, signer)


def _load_pkcs11(cfg: SealKeyConfig) -> TokenSigner:
    assert cfg.pkcs11_module is not None and cfg.token_label is not None and cfg.key_label is not None
    if not cfg.pkcs11_module.exists():
        raise SealKeyError(f"PKCS#11 module {cfg.pkcs11_module} does not exist")
    signing_cert: asn1_x509.Certificate | None = None
    if cfg.cert_file is not None:
        certs = _load_chain([cfg.cert_file])
        if not certs:
            raise SealKeyError(f"no certificate in {cfg.cert_file}")
        signing_cert = certs[0]
    chain = _load_chain(cfg.chain_files)
    try:
        session = open_session(cfg.pkcs11_module, cfg.token_label, cfg.pin)
    except Exception as e:  # python-pkcs11 raises many unrelated exception types
        raise SealKeyError(
            f"cannot open PKCS#11 token {cfg.token_label!r} via {cfg.pkcs11_module}: {type(e).__name__} {e}"
        ) from e
    signer = TokenSigner(
        session,
        key_label=cfg.key_label,
        cert_label=cfg.cert_label or cfg.key_label,
        signing_cert=signing_cert,
        ca_chain=chain,
        other_certs_to_pull=(),
    )
    try:
        # Find the key handle and certificate now, so a wrong label fails here and not at first signature.
        algorithm = signer.signing_cert.public_key.algorithm
        signer.use_raw_mechanism = (
            cfg.pkcs11_raw_mechanism
            if cfg.pkcs11_raw_mechanism is not None
            else needs_raw_mechanism(session, algorithm)
        )
    except Exception as e:
        signer.close()
        raise SealKeyError(
            f"seal key/certificate {cfg.key_label!r} not usable on token {cfg.token_label!r}: {e}"
        ) from e
    return signer


def load_signer(cfg: SealKeyConfig) -> Signer:
    """Load the seal key as a pyHanko ``Signer``. For ``pkcs11`` the result is a :class:`TokenSigner` holding an
    open session; call ``close()`` when done (or use :func:`open_signer`). Raises :class:`SealKeyError`."""
    if cfg.kind == "pem":
        return _load_pem(cfg)
    if cfg.kind == "pkcs12":
        return _load_pkcs12(cfg)
    return _load_pkcs11(cfg)


def close_signer(signer: Signer) -> None:
    """Release what ``signer`` holds (the PKCS#11 session); a no-op for file keys."""
    if isinstance(signer, TokenSigner):
        signer.close()


@contextlib.contextmanager
def open_signer(cfg: SealKeyConfig) -> Iterator[Signer]:
    signer = load_signer(cfg)
    try:
        yield signer
    finally:
        close_signer(signer)


def signer_certificate(signer: Signer) -> asn1_x509.Certificate:
    return cast(asn1_x509.Certificate, signer.signing_cert)
