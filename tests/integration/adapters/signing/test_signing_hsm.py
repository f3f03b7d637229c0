"""R-DOC-2 with the seal key in an HSM: SoftHSM2 stands in for the token. The key is generated *on* the token
(sensitive, never extractable), the DEMO root certifies its public key, and the signature made through
``load_signer`` (PKCS#11) validates — in pyHanko and in poppler's pdfsig.

SoftHSM reads SOFTHSM2_CONF when the module is first initialised in the process, so the token lives for the
whole module (one config per test process)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pkcs11
import pytest
from cryptography.hazmat.primitives import serialization
from pkcs11 import Attribute, ObjectClass

from ecert.adapters.signing import hsm, keys, pades, pki
from ecert.domain.certificate import SEAL_NAME
from helpers_signing import (
    DRILL_TIME,
    SoftHsm,
    have_softhsm,
    init_softhsm,
    load_cert,
    make_nss_db,
    make_pdf,
    pdfsig,
)

# The tools are installed by scripts/setup: a missing one is a failure, not a skip.
assert have_softhsm(), "softhsm2 (softhsm2-util, libsofthsm2.so) missing: run scripts/setup"

KEY_LABEL = "seal"


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory, demo_pki: pki.DemoPki) -> Iterator[tuple[SoftHsm, Path]]:
    """A token holding the seal key (generated on it) and its DEMO certificate; yields (token, cert file)."""
    softhsm = init_softhsm(tmp_path_factory.mktemp("softhsm"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTHSM2_CONF", str(softhsm.conf))
        public_key = hsm.generate_ec_key_on_token(
            softhsm.module, softhsm.token_label, softhsm.pin, KEY_LABEL, key_id=b"\x01"
        )
        cert = pki.issue_demo_seal_certificate(demo_pki.directory, public_key)
        hsm.store_certificate_on_token(
            softhsm.module, softhsm.token_label, softhsm.pin, KEY_LABEL, cert, cert_id=b"\x01"
        )
        cert_file = demo_pki.directory / "hsm-seal-cert.pem"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        yield softhsm, cert_file


def _cfg(
    softhsm: SoftHsm, demo_pki: pki.DemoPki, *, pin: str | None = None, cert_file: Path | None = None
) -> keys.SealKeyConfig:
    return keys.SealKeyConfig.pkcs11(
        softhsm.module,
        softhsm.token_label,
        softhsm.pin if pin is None else pin,
        KEY_LABEL,
        cert_file=cert_file,
        chain_files=[demo_pki.root_cert],
    )


def test_key_generated_on_token_is_not_extractable__R_DOC_2(token: tuple[SoftHsm, Path]) -> None:
    softhsm, _ = token
    prot = hsm.private_key_protection(softhsm.module, softhsm.token_label, softhsm.pin, KEY_LABEL)
    assert prot.sensitive and not prot.extractable
    assert prot.always_sensitive and prot.never_extractable and prot.token
    # Asking the token for the key value is refused.
    with hsm.open_session(softhsm.module, softhsm.token_label, softhsm.pin) as session:
        key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=KEY_LABEL)
        with pytest.raises(pkcs11.exceptions.AttributeSensitive):
            key[Attribute.VALUE]


def test_sign_through_pkcs11_and_validate__R_DOC_2(token: tuple[SoftHsm, Path], demo_pki: pki.DemoPki) -> None:
    softhsm, _ = token
    root = load_cert(demo_pki.root_cert)
    with keys.load_signer(_cfg(softhsm, demo_pki)) as signer:  # certificate read from the token
        assert isinstance(signer, keys.TokenSigner)
        assert signer.use_raw_mechanism  # SoftHSM 2.6 lacks CKM_ECDSA_SHA256: host hashes, token signs
        seal = pades.SealSigner(signer)
        docs = [seal.sign(make_pdf(f"holder {i}"), signing_time=DRILL_TIME) for i in range(3)]  # one session
    assert signer.closed
    for doc in docs:
        check = pades.validate_pdf(doc, trust_roots=[root], moment=DRILL_TIME)
        assert check.ok and check.signer_cn == SEAL_NAME, check.reasons


def test_pkcs11_with_certificate_from_file(token: tuple[SoftHsm, Path], demo_pki: pki.DemoPki) -> None:
    softhsm, cert_file = token
    with keys.open_signer(_cfg(softhsm, demo_pki, cert_file=cert_file)) as signer:
        doc = pades.sign_pdf(make_pdf(), signer, signing_time=DRILL_TIME)
    check = pades.validate_pdf(doc, trust_roots=[load_cert(demo_pki.root_cert)], moment=datetime.now(UTC))
    assert check.ok, check.reasons


def test_pdfsig_accepts_the_hsm_signature__R_DOC_2(
    token: tuple[SoftHsm, Path], demo_pki: pki.DemoPki, tmp_path: Path
) -> None:
    softhsm, _ = token
    with keys.open_signer(_cfg(softhsm, demo_pki)) as signer:
        doc = pades.sign_pdf(make_pdf(), signer, signing_time=DRILL_TIME)
    path = tmp_path / "hsm.pdf"
    path.write_bytes(doc)
    out = pdfsig(make_nss_db(tmp_path / "nss", demo_pki.root_cert), path)
    assert "Signature is Valid" in out and "Certificate is Trusted" in out, out


def test_wrong_pin_and_wrong_label(token: tuple[SoftHsm, Path], demo_pki: pki.DemoPki) -> None:
    softhsm, _ = token
    # No other session of this process is logged in here (the others were closed), so the PIN is checked.
    with pytest.raises(keys.SealKeyError, match="cannot open PKCS#11 token"):
        keys.load_signer(_cfg(softhsm, demo_pki, pin="0000"))
    with pytest.raises(keys.SealKeyError, match="not usable"):
        keys.load_signer(keys.SealKeyConfig.pkcs11(softhsm.module, softhsm.token_label, softhsm.pin, "no-such-key"))
    with pytest.raises(keys.SealKeyError, match="cannot open"):
        keys.load_signer(keys.SealKeyConfig.pkcs11(softhsm.module, "no-such-token", softhsm.pin, KEY_LABEL))


def test_the_token_signer_is_reusable_across_signers(token: tuple[SoftHsm, Path], demo_pki: pki.DemoPki) -> None:
    """Two signers in one process: PKCS#11 login is per application, the second session reuses it."""
    softhsm, _ = token
    with keys.open_signer(_cfg(softhsm, demo_pki)) as first, keys.open_signer(_cfg(softhsm, demo_pki)) as second:
        a = pades.sign_pdf(make_pdf(), first, signing_time=DRILL_TIME)
        b = pades.sign_pdf(make_pdf(), second, signing_time=DRILL_TIME)
    root = load_cert(demo_pki.root_cert)
    assert pades.validate_pdf(a, trust_roots=[root], moment=DRILL_TIME).ok
    assert pades.validate_pdf(b, trust_roots=[root], moment=DRILL_TIME).ok
