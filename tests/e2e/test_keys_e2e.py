"""Where the seal key comes from (R-DOC-2), end to end through the installed ``ecert`` console script: a key
generated on a PKCS#11 token (SoftHSM2), a PKCS#12 file, a configured time-stamp authority (PAdES B-T), and a
key configuration that points nowhere.

SoftHSM reads SOFTHSM2_CONF once per process, so ``ecert`` always runs as a subprocess with an explicit
environment (keystore.py reads its key settings from there), in a temp working directory with its own SQLite
database, on the drill date ECERT_TODAY=2021-03-01."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.pdf_utils.reader import PdfFileReader

from ecert.adapters.clock import Clock
from ecert.adapters.signing import pki
from ecert.adapters.signing.pades import validate_pdf
from ecert.adapters.signing.tsa import local_tsa
from ecert.domain.certificate import SEAL_NAME
from ecert.domain.dates import CST
from helpers_signing import SoftHsm, init_softhsm, load_cert, make_nss_db, pdfsig

TODAY = "2021-03-01"
KEY_LABEL = "seal"


def ecert_script() -> str:
    script = Path(sys.executable).parent / "ecert"
    if not script.exists():
        pytest.fail("the ecert console script is not installed (pip install -e .)")
    return str(script)


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """Exactly one JSON object on stdout (docs/cli.md)."""
        text = self.stdout.strip()
        obj, end = json.JSONDecoder().raw_decode(text)
        assert text[end:].strip() == "", f"more than one JSON value on stdout: {self.stdout!r}"
        assert isinstance(obj, dict)
        return obj


@dataclass
class Work:
    """A working directory with its own database, and the key environment ``ecert`` runs with."""

    dir: Path
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def keys_dir(self) -> Path:
        return self.dir / "var" / "keys"  # config.DEFAULT_KEYS_DIR, relative to the working directory

    def env(self) -> dict[str, str]:
        # Nothing ECERT_* or SoftHSM-related leaks in from the test process; the TSA is local, never proxied.
        env = {k: v for k, v in os.environ.items() if not k.startswith("ECERT_") and k != "SOFTHSM2_CONF"}
        env.update(
            ECERT_TODAY=TODAY,
            ECERT_DATABASE_URL=f"sqlite:///{self.dir / 'e.db'}",
            ECERT_LANG="en",
            NO_PROXY="127.0.0.1,localhost",
            no_proxy="127.0.0.1,localhost",
        )
        env.update(self.keys)
        return env

    def run(self, *args: str) -> Result:
        r = subprocess.run(
            [ecert_script(), *args],
            cwd=self.dir,
            env=self.env(),
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=120,
        )
        return Result(r.returncode, r.stdout, r.stderr)

    def ok(self, *args: str) -> Any:
        res = self.run(*args)
        assert res.code == 0, f"ecert {' '.join(args)} -> {res.code}\n{res.stdout}\n{res.stderr}"
        return res.json()

    def demo_holder(self) -> str:
        """``ecert demo``, then a holder who can download a certificate on the drill date."""
        out = self.ok("demo", "--holders", "40", "--json")
        for no in out["sample_registration_nos"]:
            if self.run("cert", "preview", no, "--json").code == 0:
                return str(no)
        raise AssertionError(f"no demo holder can download on {TODAY}")

    def issue_and_verify(self, no: str, name: str = "c.pdf") -> Path:
        out = self.dir / name
        issued = self.ok("cert", "issue", no, "--confirm", "--out", str(out), "--json")
        v = self.ok("verify", str(out), "--json")
        assert v["status"] == "valid", v
        assert v["serial"] == issued["serial"] and v["registration_no"] == no
        return out


@pytest.fixture
def work(tmp_path: Path) -> Work:
    d = tmp_path / "work"
    d.mkdir()
    return Work(d)


def signer_spki(pdf: Path) -> bytes:
    """The SubjectPublicKeyInfo (DER) of the signer certificate embedded in the PDF's seal signature."""
    sig = PdfFileReader(io.BytesIO(pdf.read_bytes())).embedded_regular_signatures[0]
    return bytes(sig.signer_cert.public_key.dump())


def spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


TOKEN_CHORES = """
import sys
from pathlib import Path
from cryptography.hazmat.primitives import serialization
from ecert.adapters.signing import hsm
module, token, pin, label = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
public_key = hsm.generate_ec_key_on_token(module, token, pin, label)
prot = hsm.private_key_protection(module, token, pin, label)
assert prot.sensitive and not prot.extractable and prot.never_extractable and prot.token, prot
pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
sys.stdout.write(pem.decode())
"""


def generate_key_on_token(softhsm: SoftHsm) -> ec.EllipticCurvePublicKey:
    """Generate the seal key on the token (sensitive, never extractable) and return its public key. In a
    subprocess: SoftHSM (and python-pkcs11's per-path cache) would keep whatever SOFTHSM2_CONF this test
    process saw first — e.g. another test module's token under xdist."""
    r = subprocess.run(
        [sys.executable, "-c", TOKEN_CHORES, str(softhsm.module), softhsm.token_label, softhsm.pin, KEY_LABEL],
        env=softhsm.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    key = serialization.load_pem_public_key(r.stdout.encode())
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def test_seal_key_on_a_pkcs11_token__R_DOC_2(work: Work, tmp_path: Path) -> None:
    softhsm = init_softhsm(tmp_path / "softhsm")
    public_key = generate_key_on_token(softhsm)
    # A CA (the DEMO root, outside the work directory) certifies the token's public key.
    ca = pki.create_demo_pki(tmp_path / "ca")
    cert = pki.issue_demo_seal_certificate(ca.directory, public_key)
    cert_file = tmp_path / "ca" / "hsm-seal-cert.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    work.keys = {
        "SOFTHSM2_CONF": str(softhsm.conf),
        "ECERT_PKCS11_MODULE": str(softhsm.module),
        "ECERT_PKCS11_TOKEN": softhsm.token_label,
        "ECERT_PKCS11_PIN": softhsm.pin,
        "ECERT_PKCS11_KEY_LABEL": KEY_LABEL,
        "ECERT_SEAL_CERT": str(cert_file),
        "ECERT_SEAL_CHAIN": str(ca.root_cert),
        "ECERT_TRUST_ROOTS": str(ca.root_cert),
    }

    init = work.ok("init", "--json")
    assert init["demo_keys"] is False, init
    assert not (work.keys_dir / pki.SEAL_KEY).exists() and not (work.keys_dir / pki.ROOT_KEY).exists()
    assert "DEMO" not in " ".join(init["notices"])

    out = work.issue_and_verify(work.demo_holder())
    # The seal in the PDF was made with the token's key: its signer certificate holds the token's public key.
    token_spki = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert signer_spki(out) == token_spki == spki(cert)
    # An independent checker (poppler/NSS) trusting the root agrees.
    report = pdfsig(make_nss_db(tmp_path / "nss", ca.root_cert), out)
    assert "Signature is Valid" in report and "Certificate is Trusted" in report, report
    # The root a relying party needs is the configured one.
    root_out = tmp_path / "exported-root.pem"
    assert work.run("keys", "export-root", "--out", str(root_out)).code == 0
    assert x509.load_pem_x509_certificates(root_out.read_bytes()) == [load_cert(ca.root_cert)]


def test_time_stamped_seal_when_a_tsa_is_configured__R_DOC_2(work: Work) -> None:
    init = work.ok("init", "--json")
    assert init["demo_keys"] is True
    pki.create_demo_tsa(work.keys_dir)
    no = work.demo_holder()
    # One clock for the drill (R-DATE-1): ecert signs with ECERT_TODAY's date at the current CST time of day
    # (Clock.now), and verifies at that moment too. A TSA on the real clock would stamp years after the claimed
    # signing time — a B-T seal "made" in 2021 but stamped today. So the local TSA runs on the very same drill
    # clock: the time-stamp follows the claimed signing time by seconds, and validation at the drill moment
    # (shortly after both) judges certificates and time-stamp on the same timeline as `ecert verify`.
    drill = Clock(date.fromisoformat(TODAY))
    with local_tsa(work.keys_dir, clock=drill.now) as url:
        work.keys = {"ECERT_TSA_URL": url}
        out = work.issue_and_verify(no)
    moment = drill.now() + timedelta(minutes=1)
    check = validate_pdf(out.read_bytes(), trust_roots=[load_cert(work.keys_dir / pki.ROOT_CERT)], moment=moment)
    assert check.ok, check.reasons
    assert check.signer_cn == SEAL_NAME
    assert check.timestamp_time is not None, "no signature time-stamp: the seal is B-B, not B-T"
    assert check.signing_time is not None
    assert check.timestamp_time.astimezone(CST).date() == date.fromisoformat(TODAY)
    # /M has whole seconds; the stamp comes right after signing.
    assert timedelta(seconds=-1) <= check.timestamp_time - check.signing_time <= timedelta(minutes=2)


def test_pkcs12_seal_key__R_DOC_2(work: Work, tmp_path: Path) -> None:
    ca = pki.create_demo_pki(tmp_path / "ca")
    key = serialization.load_pem_private_key(ca.seal_key.read_bytes(), password=None)
    assert isinstance(key, pkcs12.PKCS12PrivateKeyTypes)
    cert = load_cert(ca.seal_cert)
    password = "p12-secret"
    p12 = tmp_path / "ca" / "seal.p12"
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"seal",
            key,
            cert,
            [load_cert(ca.root_cert)],
            serialization.BestAvailableEncryption(password.encode()),
        )
    )
    work.keys = {
        "ECERT_SEAL_PKCS12": str(p12),
        "ECERT_SEAL_PKCS12_PASSWORD": password,
        "ECERT_TRUST_ROOTS": str(ca.root_cert),
    }
    init = work.ok("init", "--json")
    assert init["demo_keys"] is False
    assert not (work.keys_dir / pki.SEAL_KEY).exists()
    out = work.issue_and_verify(work.demo_holder())
    assert signer_spki(out) == spki(cert)


def test_missing_key_configuration_is_a_clear_error(work: Work) -> None:
    no = work.demo_holder()  # a demo PKI in var/keys: the certificate below is real, only the key is missing
    missing = work.dir / "no-such-dir" / "seal-key.pem"
    work.keys = {"ECERT_SEAL_KEY": str(missing), "ECERT_SEAL_CERT": str(work.keys_dir / pki.SEAL_CERT)}
    out = work.dir / "c.pdf"
    res = work.run("cert", "issue", no, "--confirm", "--out", str(out), "--json")
    assert "Traceback" not in res.stderr, res.stderr
    assert res.code in (1, 2), (res.code, res.stdout, res.stderr)
    err = res.json()["error"]
    assert err["code"] and str(missing) in err["message"], err
    assert not out.exists()


def test_seal_key_without_a_certificate_is_a_clear_error(work: Work) -> None:
    """Half a PEM configuration is refused when the settings are read, before anything is signed."""
    work.keys = {"ECERT_SEAL_KEY": str(work.dir / "seal-key.pem")}
    out = work.dir / "c.pdf"
    res = work.run("cert", "issue", "浙1112004200500000", "--confirm", "--out", str(out), "--json")
    assert "Traceback" not in res.stderr, res.stderr
    assert res.code == 1, (res.code, res.stdout, res.stderr)
    err = res.json()["error"]
    assert err["code"] == "bad_keys" and "ECERT_SEAL_CERT" in err["message"], err
    assert not out.exists()
