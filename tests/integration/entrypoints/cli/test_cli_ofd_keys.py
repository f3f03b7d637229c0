"""The OFD's SM2 seal keys through the CLI (R-DOC-6, adapters/keystore.py): ``ecert init`` makes the DEMO
SM2 PKI and seal beside the DEMO PDF PKI and keeps them; an operator brings an SM2 key made by Debian's
``openssl genpkey -algorithm SM2``, its certificate, the seal its seal maker made and the SM2 root; a
partial configuration is ``bad_keys``; a real PDF seal without an SM2 one issues no OFD
(``ofd_unavailable``) and records nothing, while PDFs still issue; an OFD sealed with a retired SM2 seal
certificate under the same root still verifies (rotation). On SQLite and PostgreSQL, in-process
(tests/conftest.py ``ecert``), ECERT_TODAY=2021-03-01."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import x509
from sqlalchemy import Engine, func, select

from ecert.adapters.db.tables import audit_events, certificates
from ecert.adapters.documents import default_fonts
from ecert.adapters.documents.ofd_render import seal_picture
from ecert.adapters.documents.page import MM, SEAL_RADIUS_MM
from ecert.adapters.keystore import SM2_DEMO_SEAL
from ecert.adapters.signing import sm2
from ecert.adapters.signing.ofd_seal import SEAL_FILE, make_seal
from ecert.domain.certificate import SEAL_NAME
from helpers_cli import TODAY, import_holder, refused
from helpers_signing import make_production_like_seal

SM2_DEMO_FILES = (sm2.SM2_ROOT_CERT, sm2.SM2_SEAL_CERT, sm2.SM2_SEAL_KEY, SM2_DEMO_SEAL)
VALIDITY = datetime(2020, 1, 1, tzinfo=UTC), datetime(2040, 1, 1, tzinfo=UTC)


def _keys_dir(tmp_path: Path) -> Path:
    return tmp_path / "var" / "keys"  # config.DEFAULT_KEYS_DIR under the ``ecert`` fixture's working directory


def _state(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(select(func.count()).select_from(t)).scalar_one() for t in (certificates, audit_events)
        )


def _issue(ecert: Any, no: str, out: Path, fmt: str = "ofd") -> dict[str, Any]:
    res = ecert("cert", "issue", no, "--confirm", "--format", fmt, "--out", str(out), "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout + res.stderr
    return res.json()  # type: ignore[no-any-return]


def _verify(ecert: Any, path: Path) -> tuple[str, list[str]]:
    res = ecert("verify", str(path), "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout + res.stderr
    v = res.json()
    return v["status"], v["reason_codes"]


# ------------------------------------------------------------------------------------------------ DEMO


def test_init_makes_the_demo_sm2_pki_and_keeps_it__R_DOC_6(ecert: Any, tmp_path: Path) -> None:
    res = ecert("init", "--json", today=TODAY)
    assert res.exit_code == 0, res.stdout + res.stderr
    out = res.json()
    keys = _keys_dir(tmp_path)
    assert all((keys / f).is_file() for f in SM2_DEMO_FILES), sorted(p.name for p in keys.iterdir())
    assert out["demo_keys"] is True
    assert any("DEMO" in n and "SM2" in n for n in out["notices"]), out["notices"]  # the loud notice names SM2
    for name in (sm2.SM2_SEAL_KEY, sm2.SM2_ROOT_KEY):
        assert (keys / name).stat().st_mode & 0o077 == 0, name  # private keys: owner only
    root = sm2.load_certificate((keys / sm2.SM2_ROOT_CERT).read_bytes())
    assert "DEMO" in root.subject.human_friendly
    before = {f: (keys / f).read_bytes() for f in SM2_DEMO_FILES}
    again = ecert("init", "--json", today=TODAY)
    assert again.exit_code == 0, again.stdout + again.stderr
    assert {f: (keys / f).read_bytes() for f in SM2_DEMO_FILES} == before  # kept, byte for byte
    assert any("DEMO" in n for n in again.json()["notices"])  # and still said to be DEMO keys


def test_a_keys_dir_made_before_ofd_gets_the_sm2_files_on_init__R_DOC_6(ecert: Any, tmp_path: Path) -> None:
    no = import_holder(ecert, tmp_path)  # runs `ecert init`
    keys = _keys_dir(tmp_path)
    pdf_pki = {p.name: p.read_bytes() for p in keys.iterdir() if not p.name.startswith("sm2")}
    for f in (*SM2_DEMO_FILES, sm2.SM2_ROOT_KEY):
        (keys / f).unlink()
    # Before `ecert init`: no OFD (the seal files are missing), and PDFs still issue and verify.
    refused(ecert("cert", "issue", no, "--confirm", "--format", "ofd", "--out", str(tmp_path / "c.ofd"),
                  "--json", today=TODAY), "keys_missing")  # fmt: skip
    assert not (tmp_path / "c.ofd").exists()
    _issue(ecert, no, tmp_path / "c.pdf", "pdf")
    assert _verify(ecert, tmp_path / "c.pdf") == ("valid", ["valid"])
    assert ecert("init", "--json", today=TODAY).exit_code == 0
    assert all((keys / f).is_file() for f in SM2_DEMO_FILES)
    assert {n: (keys / n).read_bytes() for n in pdf_pki} == pdf_pki  # the PDF's DEMO PKI and QR key untouched
    _issue(ecert, no, tmp_path / "c.ofd")
    assert _verify(ecert, tmp_path / "c.ofd") == ("valid", ["valid"])


def test_a_demo_sm2_root_deleted_alone_is_made_again_on_init__R_DOC_6(ecert: Any, tmp_path: Path) -> None:
    """Without its root every DEMO OFD would quietly be untrusted: ``ecert init`` makes the DEMO SM2 PKI again."""
    no = import_holder(ecert, tmp_path)  # runs `ecert init`
    keys = _keys_dir(tmp_path)
    (keys / sm2.SM2_ROOT_CERT).unlink()
    assert ecert("init", "--json", today=TODAY).exit_code == 0
    assert all((keys / f).is_file() for f in SM2_DEMO_FILES)
    _issue(ecert, no, tmp_path / "c.ofd")
    assert _verify(ecert, tmp_path / "c.ofd") == ("valid", ["valid"])


# --------------------------------------------------------------------------------------------- operator's


@dataclass
class OperatorSm2:
    """An operator's SM2 CA (its own root, acting as the seal maker) and seal certificates under it."""

    dir: Path
    root: x509.Certificate
    root_key: sm2.Sm2Key
    root_pem: Path

    def seal(self, name: str, serial: int) -> dict[str, str]:
        """A seal key from ``openssl genpkey -algorithm SM2``, its certificate, and the seal the seal maker
        made for it: the ECERT_SM2_* variables (with the root)."""
        openssl = shutil.which("openssl")
        if openssl is None:
            pytest.fail("openssl (Debian package openssl) is not installed — run scripts/setup")
        key_pem = self.dir / f"{name}-key.pem"
        subprocess.run([openssl, "genpkey", "-algorithm", "SM2", "-out", str(key_pem)], check=True, capture_output=True)
        key = sm2.Sm2Key.from_pem(key_pem.read_bytes())
        subject = x509.Name.build(
            {"country_name": "CN", "organization_name": "中华人民共和国住房和城乡建设部",
             "common_name": f"{SEAL_NAME} {name}"}, use_printable=False
        )  # fmt: skip
        cert = sm2.make_certificate(
            subject=subject, key=key, issuer=self.root, issuer_key=self.root_key, serial=serial,
            not_before=VALIDITY[0], not_after=VALIDITY[1], ca=False,
        )  # fmt: skip
        seal = make_seal(
            es_id=f"OPERATOR-{name}", picture_png=seal_picture(SEAL_RADIUS_MM * MM, default_fonts()),
            signer_cert=cert, maker_key=self.root_key, maker_cert=self.root,
            valid_start=VALIDITY[0], valid_end=VALIDITY[1],
        )  # fmt: skip
        cert_pem, seal_der = self.dir / f"{name}-cert.pem", self.dir / f"{name}.esl"
        cert_pem.write_bytes(sm2.certificate_pem(cert))
        seal_der.write_bytes(seal.dump())
        return {
            "ECERT_SM2_SEAL_KEY": str(key_pem),
            "ECERT_SM2_SEAL_CERT": str(cert_pem),
            "ECERT_SM2_SEAL": str(seal_der),
            "ECERT_SM2_TRUST_ROOTS": str(self.root_pem),
        }


def _operator(directory: Path) -> OperatorSm2:
    directory.mkdir(parents=True, exist_ok=True)
    root_key = sm2.Sm2Key.generate()
    name = x509.Name.build({"country_name": "CN", "common_name": "Test SM2 Root CA"}, use_printable=False)
    root = sm2.make_certificate(
        subject=name, key=root_key, issuer=None, issuer_key=root_key, serial=1,
        not_before=VALIDITY[0], not_after=VALIDITY[1], ca=True,
    )  # fmt: skip
    root_pem = directory / "sm2-root.pem"
    root_pem.write_bytes(sm2.certificate_pem(root))
    return OperatorSm2(directory, root, root_key, root_pem)


@pytest.fixture
def production(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A production-like PDF seal configured (no DEMO anywhere): the ECERT_* variables set."""
    seal = make_production_like_seal(tmp_path / "production")
    env = {"ECERT_SEAL_KEY": str(seal.key), "ECERT_SEAL_CERT": str(seal.cert), "ECERT_TRUST_ROOTS": str(seal.root)}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


def _configure(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for k in ("ECERT_SM2_SEAL_KEY", "ECERT_SM2_SEAL_CERT", "ECERT_SM2_SEAL", "ECERT_SM2_TRUST_ROOTS"):
        if k in env:
            monkeypatch.setenv(k, env[k])
        else:
            monkeypatch.delenv(k, raising=False)


def test_an_operators_sm2_seal_issues_ofds_its_root_vouches_for__R_DOC_6(
    ecert: Any, tmp_path: Path, production: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    op = _operator(tmp_path / "sm2")
    env = op.seal("seal-1", 2)
    _configure(monkeypatch, env)
    no = import_holder(ecert, tmp_path)
    keys = _keys_dir(tmp_path)
    assert not any((keys / f).exists() for f in SM2_DEMO_FILES)  # no DEMO SM2 PKI where one is configured
    out = tmp_path / "c.ofd"
    issued = _issue(ecert, no, out, "both")
    pdf, ofd = tmp_path / "c.pdf", tmp_path / "c.ofd"
    assert issued["files"] == {"pdf": str(pdf), "ofd": str(ofd)}
    assert _verify(ecert, ofd) == ("valid", ["valid"])
    assert _verify(ecert, pdf) == ("valid", ["valid"])
    with zipfile.ZipFile(ofd) as z:  # no DEMO mark on the page, no DEMO name in the seal or its certificates
        assert not [n for n in z.namelist() if n.endswith((".xml", ".esl", ".dat")) and b"DEMO" in z.read(n)]
    # The verifier without the operator's SM2 root trusts no OFD (and never the DEMO root instead).
    _configure(monkeypatch, {k: v for k, v in env.items() if k != "ECERT_SM2_TRUST_ROOTS"})
    assert _verify(ecert, ofd) == ("untrusted", ["untrusted_signer"])
    assert _verify(ecert, pdf) == ("valid", ["valid"])


def test_an_ofd_sealed_with_a_retired_sm2_seal_certificate_still_verifies__R_DOC_6(
    ecert: Any, tmp_path: Path, production: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    op = _operator(tmp_path / "sm2")
    old, new = op.seal("seal-2020", 2), op.seal("seal-2021", 3)
    _configure(monkeypatch, old)
    no = import_holder(ecert, tmp_path)
    _issue(ecert, no, tmp_path / "old.ofd")
    _configure(monkeypatch, new)  # rotated: the new seal certificate under the same root
    _issue(ecert, no, tmp_path / "new.ofd")
    assert _verify(ecert, tmp_path / "new.ofd") == ("valid", ["valid"])
    assert _verify(ecert, tmp_path / "old.ofd") == ("valid", ["valid"])  # the retired seal's file still verifies
    with zipfile.ZipFile(tmp_path / "old.ofd") as z_old, zipfile.ZipFile(tmp_path / "new.ofd") as z_new:
        assert z_old.read(SEAL_FILE) != z_new.read(SEAL_FILE)  # sealed with the two seals indeed


@pytest.mark.parametrize("only", ["ECERT_SM2_SEAL_KEY", "ECERT_SM2_SEAL_CERT", "ECERT_SM2_SEAL"])
def test_a_partial_sm2_configuration_is_bad_keys__R_DOC_6(
    ecert: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, only: str
) -> None:
    env = _operator(tmp_path / "sm2").seal("seal-1", 2)
    _configure(monkeypatch, {only: env[only]})
    err = refused(ecert("init", "--json", today=TODAY), "bad_keys")
    assert "ECERT_SM2_SEAL_KEY" in err["message"], err


def test_a_real_pdf_seal_without_an_sm2_seal_issues_no_ofd_and_records_nothing__R_DOC_6(
    ecert: Any, tmp_path: Path, engine: Engine, production: dict[str, str]
) -> None:
    no = import_holder(ecert, tmp_path)
    assert not any((_keys_dir(tmp_path) / f).exists() for f in SM2_DEMO_FILES)  # never a DEMO SM2 seal here
    before = _state(engine)
    for fmt, name in (("ofd", "c.ofd"), ("both", "c.pdf")):
        res = ecert("cert", "issue", no, "--confirm", "--format", fmt, "--out", str(tmp_path / name), "--json",
                    today=TODAY)  # fmt: skip
        err = refused(res, "ofd_unavailable")
        assert "ECERT_SM2_SEAL_KEY" in err["message"]
        assert not (tmp_path / "c.ofd").exists() and not (tmp_path / "c.pdf").exists(), fmt
        assert _state(engine) == before, fmt  # no issuance record, no audit event
    # A batch asking for OFDs is refused as a whole, before any worker starts or any directory is made.
    (tmp_path / "nos.txt").write_text(no, encoding="utf-8")
    for fmt in ("ofd", "both"):
        res = ecert("cert", "batch", str(tmp_path / "nos.txt"), "--format", fmt, "--out-dir", str(tmp_path / "out"),
                    "--json", today=TODAY)  # fmt: skip
        refused(res, "ofd_unavailable")
        assert not (tmp_path / "out").exists() and _state(engine) == before, fmt
    _issue(ecert, no, tmp_path / "c.pdf", "pdf")  # while PDFs still issue: one record, one audit event
    assert _state(engine) == (before[0] + 1, before[1] + 1)
    assert _verify(ecert, tmp_path / "c.pdf") == ("valid", ["valid"])


def test_once_a_real_pdf_seal_is_configured_demo_ofds_are_no_longer_trusted__R_DOC_6(
    ecert: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A drill's DEMO OFD carried into production: the DEMO SM2 root left in the keys directory is not
    trusted there, and no OFD is sealed with the DEMO SM2 key left beside it."""
    no = import_holder(ecert, tmp_path)
    _issue(ecert, no, tmp_path / "demo.ofd")
    assert _verify(ecert, tmp_path / "demo.ofd") == ("valid", ["valid"])
    seal = make_production_like_seal(tmp_path / "production")
    for k, v in {"ECERT_SEAL_KEY": seal.key, "ECERT_SEAL_CERT": seal.cert, "ECERT_TRUST_ROOTS": seal.root}.items():
        monkeypatch.setenv(k, str(v))
    assert all((_keys_dir(tmp_path) / f).exists() for f in SM2_DEMO_FILES)
    assert _verify(ecert, tmp_path / "demo.ofd") == ("untrusted", ["untrusted_signer"])
    res = ecert("cert", "issue", no, "--confirm", "--format", "ofd", "--out", str(tmp_path / "c.ofd"), "--json",
                today=TODAY)  # fmt: skip
    refused(res, "ofd_unavailable")
