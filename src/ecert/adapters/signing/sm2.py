"""SM2 keys and certificates for the national seal (R-DOC-6): sign and verify with SM2 (GB/T 32918,
default user ID ``1234567812345678``, signatures as DER ``SEQUENCE {r, s}``), SM3 digests, and the
DEMO SM2 PKI — **NOT FOR PRODUCTION**.

SM2 runs in ``gmssl-pyx`` (a maintained wrapper of the GmSSL C library: native speed); SM3 in the
system OpenSSL (``hashlib.new("sm3")``). Certificates are asn1crypto values, as pyHanko uses them;
the tests check every signature made here with Debian's ``openssl`` as the independent implementation.

:func:`demo_sm2_pki` makes a throwaway SM2 root (which also acts as the seal maker, 制章人) and an
SM2-with-SM3 seal certificate under it, both named DEMO, with unencrypted keys.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import gmssl_pyx  # type: ignore[import-untyped]
from asn1crypto import core, keys, pem, x509  # type: ignore[import-untyped]

from ecert.adapters.signing.pki import DEMO_OU, ROOT_O, _write_private
from ecert.domain.certificate import SEAL_NAME

SM2_CURVE = "1.2.156.10197.1.301"
SM2_WITH_SM3 = "1.2.156.10197.1.501"
SM3 = "1.2.156.10197.1.401"
DEFAULT_USER_ID = b"1234567812345678"
# The curve's a, b, xG and yG (GB/T 32918.5), as the signer's Z value hashes them (GB/T 32918.2).
_CURVE_ABG = bytes.fromhex(
    "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC"
    "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93"
    "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"
    "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0"
)

SM2_ROOT_CN = "ecert DEMO SM2 Root CA — NOT FOR PRODUCTION"
# Files of :meth:`DemoSm2Pki.write`, beside the PDF seal's DEMO PKI (:mod:`.pki`).
SM2_ROOT_CERT = "sm2-root-cert.pem"
SM2_ROOT_KEY = "sm2-root-key.pem"
SM2_SEAL_CERT = "sm2-seal-cert.pem"
SM2_SEAL_KEY = "sm2-seal-key.pem"
SM2_DEMO_WARNING = (
    "DEMO SM2 KEYS — NOT FOR PRODUCTION: the SM2 root (seal maker) and the SM2 seal key are generated "
    "locally; their private keys sit unencrypted and nobody should trust this root."
)

# asn1crypto needs the curve's key length to build SM2 keys; registered once, under GM/T 0006's name.
if "sm2p256v1" not in keys.NamedCurve._map.values():
    keys.NamedCurve.register("sm2p256v1", SM2_CURVE, 32)


def _is_sm2(parameters: keys.ECDomainParameters) -> bool:
    return bool(parameters.name == "named" and parameters.chosen.dotted == SM2_CURVE)


def sm3(data: bytes) -> bytes:
    """SM3 (GB/T 32905) through the system OpenSSL."""
    return hashlib.new("sm3", data).digest()


def sm2_z(public_key: bytes, user_id: bytes = DEFAULT_USER_ID) -> bytes:
    """The signer's Z value (GB/T 32918.2): SM3 of the user ID's bit length, the ID, the curve's a, b and base
    point, and the 64-byte public key (x ‖ y)."""
    return sm3((8 * len(user_id)).to_bytes(2, "big") + user_id + _CURVE_ABG + public_key)


def sm2_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` (DER ``SEQUENCE {r, s}``) is an SM2 signature of ``message`` by the 64-byte
    public key (x ‖ y), with the default user ID; False for anything malformed, never an exception."""
    try:
        ok: object = gmssl_pyx.sm2_verify(public_key, message, signature, DEFAULT_USER_ID)
    except Exception:  # the extension raises its own error types on bad keys or signatures
        return False
    return ok is True


@dataclass(frozen=True)
class Sm2Key:
    """An SM2 key pair: the 32-byte private scalar and the 64-byte public point (x ‖ y)."""

    private: bytes
    public: bytes

    @classmethod
    def generate(cls) -> Sm2Key:
        public, private = gmssl_pyx.sm2_key_generate()
        return cls(bytes(private), bytes(public))

    @classmethod
    def from_pem(cls, data: bytes) -> Sm2Key:
        """A PKCS#8 (``PRIVATE KEY``) or SEC 1 (``EC PRIVATE KEY``) SM2 key, as ``openssl genpkey -algorithm SM2``
        writes it. ``ValueError`` if it is not an unencrypted SM2 key."""
        kind, _, der = pem.unarmor(data) if pem.detect(data) else ("PRIVATE KEY", None, data)
        if kind == "PRIVATE KEY":
            info = keys.PrivateKeyInfo.load(der)
            if not _is_sm2(info["private_key_algorithm"]["parameters"]):
                raise ValueError("not an SM2 key")
            ec = info["private_key"].parsed
        elif kind == "EC PRIVATE KEY":
            ec = keys.ECPrivateKey.load(der)
        else:
            raise ValueError(f"not an SM2 private key: {kind}")
        private = int(ec["private_key"].native).to_bytes(32, "big")
        point = ec["public_key"].native
        if not point:
            raise ValueError("the SM2 key file has no public key")
        return cls(private, bytes(point)[1:])

    def to_pem(self) -> bytes:
        ec = keys.ECPrivateKey(
            {"version": "ecPrivkeyVer1", "private_key": int.from_bytes(self.private, "big"),
             "public_key": b"\x04" + self.public}
        )  # fmt: skip
        info = keys.PrivateKeyInfo(
            {"version": 0, "private_key_algorithm": _ec_algorithm(keys.PrivateKeyAlgorithm), "private_key": ec}
        )
        return bytes(pem.armor("PRIVATE KEY", info.dump()))

    def sign(self, message: bytes) -> bytes:
        """SM2 signature (DER ``SEQUENCE {r, s}``) of ``message`` with the default user ID. The digest
        ``e = SM3(Z ‖ message)`` is taken here and signed with ``sm2_sign_sm3_digest``: the same signature
        as ``gmssl_pyx.sm2_sign`` of the message, in 0.25 ms instead of 2.4 ms."""
        e = sm3(sm2_z(self.public) + message)
        return bytes(gmssl_pyx.sm2_sign_sm3_digest(self.private, e))


def _ec_algorithm(cls: type) -> core.Sequence:
    return cls({"algorithm": "ec", "parameters": keys.ECDomainParameters("named", SM2_CURVE)})


def public_key_of(cert: x509.Certificate) -> bytes | None:
    """The 64-byte SM2 public point of ``cert``, or None if its key is not an SM2 key."""
    try:
        info = cert["tbs_certificate"]["subject_public_key_info"]
        if info["algorithm"]["algorithm"].native != "ec" or not _is_sm2(info["algorithm"]["parameters"]):
            return None
        point = bytes(info["public_key"])
    except Exception:  # asn1crypto parses lazily: a malformed certificate fails here
        return None
    return point[1:] if len(point) == 65 and point[0] == 4 else None


def issued_by(cert: x509.Certificate, issuer: x509.Certificate, moment: datetime) -> bool:
    """Whether ``issuer`` signed ``cert`` (:func:`signed_by`) and ``cert`` is valid at ``moment``."""
    return valid_at(cert, moment) and signed_by(cert, issuer)


def valid_at(cert: x509.Certificate, moment: datetime) -> bool:
    try:
        validity = cert["tbs_certificate"]["validity"]
        return bool(validity["not_before"].native <= moment <= validity["not_after"].native)
    except Exception:  # a malformed certificate
        return False


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` signed ``cert`` with SM2-with-SM3 and the names chain (no dates: :func:`valid_at`)."""
    issuer_key = public_key_of(issuer)
    try:
        tbs = cert["tbs_certificate"]
        if issuer_key is None or cert["signature_algorithm"]["algorithm"].dotted != SM2_WITH_SM3:
            return False
        if tbs["issuer"] != issuer["tbs_certificate"]["subject"]:
            return False
        return sm2_verify(issuer_key, tbs.dump(), bytes(cert["signature_value"]))
    except Exception:  # a malformed certificate
        return False


def make_certificate(
    *,
    subject: x509.Name,
    key: Sm2Key,
    issuer: x509.Certificate | None,
    issuer_key: Sm2Key,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    ca: bool,
) -> x509.Certificate:
    """An X.509 v3 certificate for the SM2 ``key``, signed SM2-with-SM3 by ``issuer_key`` (self-signed
    when ``issuer`` is None)."""
    sig_alg = x509.SignedDigestAlgorithm({"algorithm": SM2_WITH_SM3})
    usage = {"key_cert_sign", "crl_sign"} if ca else {"digital_signature", "non_repudiation"}
    extensions = [
        {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": ca}},
        {"extn_id": "key_usage", "critical": True, "extn_value": usage},
        {"extn_id": "key_identifier", "critical": False, "extn_value": sm3(key.public)[:20]},
    ]
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial,
            "signature": sig_alg,
            "issuer": subject if issuer is None else issuer["tbs_certificate"]["subject"],
            "validity": {"not_before": x509.Time({"utc_time": not_before}),
                         "not_after": x509.Time({"utc_time": not_after})},
            "subject": subject,
            "subject_public_key_info": {"algorithm": _ec_algorithm(keys.PublicKeyAlgorithm),
                                        "public_key": b"\x04" + key.public},
            "extensions": extensions,
        }
    )  # fmt: skip
    return x509.Certificate(
        {"tbs_certificate": tbs, "signature_algorithm": sig_alg, "signature_value": issuer_key.sign(tbs.dump())}
    )


@dataclass(frozen=True)
class DemoSm2Pki:
    """A DEMO SM2 root (the trust anchor and the seal maker) and a seal certificate under it (see
    :data:`SM2_DEMO_WARNING`)."""

    root_key: Sm2Key
    root: x509.Certificate
    seal_key: Sm2Key
    seal: x509.Certificate

    def write(self, directory: Path) -> None:
        """Into ``directory``: the certificates (PEM) and the unencrypted keys (PKCS#8 PEM, mode 0600)."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / SM2_ROOT_CERT).write_bytes(certificate_pem(self.root))
        (directory / SM2_SEAL_CERT).write_bytes(certificate_pem(self.seal))
        _write_private(directory / SM2_ROOT_KEY, self.root_key.to_pem())
        _write_private(directory / SM2_SEAL_KEY, self.seal_key.to_pem())

    @classmethod
    def load(cls, directory: Path) -> DemoSm2Pki:
        """What :meth:`write` wrote (``OSError`` / ``ValueError`` if a file is missing or not SM2)."""
        return cls(
            Sm2Key.from_pem((directory / SM2_ROOT_KEY).read_bytes()),
            load_certificate((directory / SM2_ROOT_CERT).read_bytes()),
            Sm2Key.from_pem((directory / SM2_SEAL_KEY).read_bytes()),
            load_certificate((directory / SM2_SEAL_CERT).read_bytes()),
        )


def demo_sm2_pki(now: datetime | None = None, *, years: int = 10) -> DemoSm2Pki:
    """Make a DEMO SM2 PKI valid from a day before ``now`` for ``years`` years."""
    start = (now or datetime.now(UTC)).replace(microsecond=0) - timedelta(days=1)
    end = start + timedelta(days=365 * years)
    root_key, seal_key = Sm2Key.generate(), Sm2Key.generate()
    root_name = x509.Name.build(
        {"country_name": "CN", "organization_name": ROOT_O, "organizational_unit_name": DEMO_OU,
         "common_name": SM2_ROOT_CN}, use_printable=False
    )  # fmt: skip
    root = make_certificate(
        subject=root_name, key=root_key, issuer=None, issuer_key=root_key,
        serial=1, not_before=start, not_after=end, ca=True,
    )  # fmt: skip
    seal_name = x509.Name.build(
        {"country_name": "CN", "organization_name": ROOT_O, "organizational_unit_name": DEMO_OU,
         "common_name": f"{SEAL_NAME} (SM2 DEMO)"}, use_printable=False
    )  # fmt: skip
    seal = make_certificate(
        subject=seal_name, key=seal_key, issuer=root, issuer_key=root_key,
        serial=2, not_before=start, not_after=end, ca=False,
    )  # fmt: skip
    return DemoSm2Pki(root_key, root, seal_key, seal)


def certificate_pem(cert: x509.Certificate) -> bytes:
    return bytes(pem.armor("CERTIFICATE", cert.dump()))


def load_certificate(data: bytes) -> x509.Certificate:
    """An X.509 certificate from PEM or DER; ``ValueError`` if it is neither or its key is not SM2."""
    der = pem.unarmor(data)[2] if pem.detect(data) else data
    cert = x509.Certificate.load(der)
    if public_key_of(cert) is None:
        raise ValueError("not a certificate for an SM2 key")
    return cert
