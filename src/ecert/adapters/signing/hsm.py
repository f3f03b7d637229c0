"""PKCS#11 token chores for the seal key (R-DOC-2): generate the key *on* the token, store its certificate
there, and inspect the key's protection attributes. Signing itself goes through
:func:`ecert.adapters.signing.keys.load_signer`.

The private key is generated with CKA_SENSITIVE=true, CKA_EXTRACTABLE=false, CKA_TOKEN=true: the token will
sign with it but never export it. Only the public key comes out, to be certified by a CA.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pkcs11
import pkcs11.exceptions
from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters


def open_session(module: Path, token_label: str, pin: str | None, *, rw: bool = False) -> pkcs11.Session:
    """Open a session on the token labelled ``token_label`` and log in with ``pin``.

    PKCS#11 login is per application and token, not per session: while another session of this process is
    logged in, C_Login fails with CKR_USER_ALREADY_LOGGED_IN and the new session is already authorised — so
    open it without logging in again."""
    token = pkcs11.lib(str(module)).get_token(token_label=token_label)  # python-pkcs11 caches the lib per path
    if pin is None:
        return token.open(rw=rw)
    try:
        return token.open(rw=rw, user_pin=pin)
    except pkcs11.exceptions.UserAlreadyLoggedIn:
        return token.open(rw=rw)


def generate_ec_key_on_token(
    module: Path, token_label: str, pin: str, key_label: str, *, key_id: bytes = b"\x01", curve: str = "secp256r1"
) -> ec.EllipticCurvePublicKey:
    """Generate a non-extractable EC key pair on the token; return the public key (for a CSR/certificate)."""
    with open_session(module, token_label, pin, rw=True) as session:
        params = session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters(curve)}, local=True
        )
        public, _private = params.generate_keypair(
            store=True,
            label=key_label,
            id=key_id,
            private_template={
                Attribute.TOKEN: True,
                Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.SIGN: True,
            },
            public_template={Attribute.TOKEN: True, Attribute.VERIFY: True},
        )
        loaded = serialization.load_der_public_key(encode_ec_public_key(public))
    if not isinstance(loaded, ec.EllipticCurvePublicKey):  # pragma: no cover - the token returned what we asked
        raise TypeError("token returned a non-EC public key")
    return loaded


def store_certificate_on_token(
    module: Path, token_label: str, pin: str, label: str, cert: x509.Certificate, *, cert_id: bytes = b"\x01"
) -> None:
    """Store ``cert`` as a CKO_CERTIFICATE (X.509) object next to its key (same label and id)."""
    der = cert.public_bytes(serialization.Encoding.DER)
    # Names as encoded in the certificate (asn1crypto: cryptography warns on re-encoding the 81-byte seal CN).
    parsed = asn1_x509.Certificate.load(der)
    with open_session(module, token_label, pin, rw=True) as session:
        session.create_object(
            {
                Attribute.CLASS: ObjectClass.CERTIFICATE,
                Attribute.CERTIFICATE_TYPE: pkcs11.CertificateType.X_509,
                Attribute.TOKEN: True,
                Attribute.LABEL: label,
                Attribute.ID: cert_id,
                Attribute.SUBJECT: parsed.subject.dump(),
                Attribute.ISSUER: parsed.issuer.dump(),
                Attribute.SERIAL_NUMBER: cert.serial_number.to_bytes(20, "big").lstrip(b"\x00") or b"\x00",
                Attribute.VALUE: der,
            }
        )


@dataclass(frozen=True, slots=True)
class KeyProtection:
    sensitive: bool
    extractable: bool
    always_sensitive: bool
    never_extractable: bool
    token: bool


def needs_raw_mechanism(session: pkcs11.Session, key_algorithm: str) -> bool:
    """True when the token cannot hash-and-sign SHA-256 itself for this key type (SoftHSM 2.6 has no
    CKM_ECDSA_SHA256): then pyHanko hashes on the host and the token signs the digest (CKM_ECDSA /
    CKM_RSA_PKCS over a DigestInfo). The key stays on the token either way."""
    wanted = {"ec": pkcs11.Mechanism.ECDSA_SHA256, "rsa": pkcs11.Mechanism.SHA256_RSA_PKCS}.get(key_algorithm)
    if wanted is None:
        return False
    try:
        mechanisms = set(session.token.slot.get_mechanisms())
    except pkcs11.exceptions.PKCS11Error:
        return False
    return wanted not in mechanisms


def private_key_protection(module: Path, token_label: str, pin: str, key_label: str) -> KeyProtection:
    """The protection attributes of the private key ``key_label`` as the token reports them."""
    with open_session(module, token_label, pin) as session:
        key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=key_label)
        return KeyProtection(
            sensitive=bool(key[Attribute.SENSITIVE]),
            extractable=bool(key[Attribute.EXTRACTABLE]),
            always_sensitive=bool(key[Attribute.ALWAYS_SENSITIVE]),
            never_extractable=bool(key[Attribute.NEVER_EXTRACTABLE]),
            token=bool(key[Attribute.TOKEN]),
        )
