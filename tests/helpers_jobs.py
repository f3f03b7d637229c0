"""Helpers for the job tests: rotate the DEMO seal key, read certificates back."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Engine, func, select

from ecert.adapters.db.tables import certificates, registrations
from ecert.adapters.signing import pki


def rotate_demo_seal_key(keys_dir: Path) -> str:
    """A new seal key and certificate under the same DEMO root, in place of the old ones (what an
    operator does on a rotation); returns the new key id (SHA-256 of the DER certificate, as
    PadesSealer.key_id)."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = pki.issue_demo_seal_certificate(keys_dir, key.public_key())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (keys_dir / pki.SEAL_KEY).write_bytes(pem)
    (keys_dir / pki.SEAL_CERT).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_id_of(keys_dir / pki.SEAL_CERT)


def key_id_of(cert_pem: Path) -> str:
    cert = x509.load_pem_x509_certificate(cert_pem.read_bytes())
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def current_certificates_by_key(engine: Engine) -> dict[str, int]:
    """seal_key_id -> number of current certificates (not superseded) sealed with it."""
    c, r = certificates, registrations
    with engine.connect() as conn:
        rows = conn.execute(
            select(c.c.seal_key_id, func.count())
            .join(r, r.c.id == c.c.registration_id)
            .where(c.c.data_version == r.c.data_version)
            .group_by(c.c.seal_key_id)
        ).all()
    return {k: int(n) for k, n in rows}


def certificates_per_registration(engine: Engine, key_id: str) -> dict[str, int]:
    """registration_no -> number of certificates sealed with ``key_id`` (any version)."""
    c = certificates
    with engine.connect() as conn:
        rows = conn.execute(
            select(c.c.registration_no, func.count()).where(c.c.seal_key_id == key_id).group_by(c.c.registration_no)
        ).all()
    return {n: int(k) for n, k in rows}
