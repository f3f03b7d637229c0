"""Issue 16 §2 (R-DOC-2, R-USE-3) through the verification use case, on SQLite and PostgreSQL: a certificate
sealed B-T (ECERT_SEAL_PROFILE, the DEMO TSA in-process on the app clock) while its seal certificate was valid is
still ``valid`` once that certificate has ended and the seal key has been rotated; sealed B-B (no time-stamp)
it is ``untrusted`` then, as before. The OFD of the same issuance likewise (R-DOC-6): its SM2 seal carries an
RFC 3161 time-stamp of the signature value in ``SES_Signature.timeStamp`` wherever the PDF is time-stamped."""

from __future__ import annotations

import io
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from asn1crypto import core as core_asn1
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image
from sqlalchemy import Engine

from ecert.adapters import keystore
from ecert.adapters.documents.ofd_render import zip_package
from ecert.adapters.signing import pki, ses, sm2
from ecert.adapters.signing.ofd_seal import SIGNED_VALUE, make_seal
from ecert.adapters.signing.timestamps import stamp_bytes
from ecert.bootstrap import App, bootstrap
from ecert.config import Settings
from ecert.services import verification
from ecert.services.demo import seed_demo
from helpers_documents import issue_to_a_demo_holder, package_files
from helpers_signing import make_nss_db, pdfsig

TODAY = date(2021, 3, 1)
CERT_END = datetime(2021, 3, 8, tzinfo=UTC)  # the seal certificate ends a week after issuance …


@pytest.fixture(scope="module")
def demo_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DEMO keys made once, each test works on a copy; the DEMO SM2 PKI written first with a small seal picture
    (drawing the real one takes seconds), so that ensure_keys makes only the PDF PKI and the QR key."""
    keys_dir = tmp_path_factory.mktemp("ltv") / "keys"
    made = sm2.demo_sm2_pki(datetime(2020, 1, 2, tzinfo=UTC), years=20)
    made.write(keys_dir)
    picture = io.BytesIO()
    Image.new("RGBA", (160, 160), (200, 0, 0, 255)).save(picture, "PNG")
    _short_lived_sm2_seal(keys_dir, picture.getvalue())
    keystore.ensure_keys(keystore.key_settings_from_env({"ECERT_KEYS_DIR": str(keys_dir)}))
    return keys_dir


def _short_lived_sm2_seal(keys_dir: Path, picture: bytes | None = None) -> None:
    """Replace the DEMO SM2 seal certificate and its seal (same DEMO SM2 root and maker) by ones ending at CERT_END."""
    made = sm2.DemoSm2Pki.load(keys_dir)
    key = sm2.Sm2Key.generate()
    start = datetime(2021, 1, 1, tzinfo=UTC)
    cert = sm2.make_certificate(
        subject=made.seal.subject, key=key, issuer=made.root, issuer_key=made.root_key,
        serial=3, not_before=start, not_after=CERT_END, ca=False,
    )  # fmt: skip
    if picture is None:
        picture = bytes(
            ses.SESeal.load((keys_dir / keystore.SM2_DEMO_SEAL).read_bytes())["eseal_info"]["picture"]["data"]
        )
    seal = make_seal(
        es_id=keystore.SM2_DEMO_SEAL_ID, picture_png=picture, signer_cert=cert,
        maker_key=made.root_key, maker_cert=made.root, valid_start=start, valid_end=CERT_END,
    )  # fmt: skip
    sm2.DemoSm2Pki(made.root_key, made.root, key, cert).write(keys_dir)
    (keys_dir / keystore.SM2_DEMO_SEAL).write_bytes(seal.dump())


def _short_lived_seal(keys_dir: Path) -> None:
    """Replace the DEMO seal key by one whose certificate (same DEMO root) ends at CERT_END."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = pki.issue_certificate(
        pki.load_demo_root(keys_dir), key.public_key(), pki.seal_subject(), pki.SEAL_EKUS,
        validity=(datetime(2021, 1, 1, tzinfo=UTC), CERT_END),
    )  # fmt: skip
    (keys_dir / pki.SEAL_KEY).write_bytes(pki.key_pem(key))
    (keys_dir / pki.SEAL_CERT).write_bytes(pki.cert_pem(cert))


def _app(db_url: str, engine: Engine, keys_dir: Path, today: date, profile: str) -> App:
    env = {"ECERT_KEYS_DIR": str(keys_dir), "ECERT_TSA_URL": "demo", "ECERT_SEAL_PROFILE": profile}
    keys = keystore.key_settings_from_env(env)
    return bootstrap(Settings(database_url=db_url, today_override=today), engine=engine, keys=keys)


def _verdict(core: App, pdf: bytes) -> tuple[str, list[str]]:
    r = verification.verify_pdf(
        core.uow(), pdf, check_signature=core.signature_checker, keys=core.qr_public_keys, check_ofd=core.ofd_checker,
        today=core.clock.today(), now=core.clock.now(), policy=core.policy,
    )  # fmt: skip
    return r.status.value, [reason.code for reason in r.reasons]


@pytest.mark.parametrize(
    ("profile", "later"), [("B-T", ("valid", ["valid"])), ("B-B", ("untrusted", ["untrusted_signer"]))]
)
def test_the_verdict_outlives_the_seal_certificate_and_a_rotation__R_DOC_2(
    profile: str, later: tuple[str, list[str]], demo_keys: Path, db_url: str, engine: Engine, tmp_path: Path
) -> None:
    keys_dir = tmp_path / "keys"
    shutil.copytree(demo_keys, keys_dir)
    _short_lived_seal(keys_dir)
    core = _app(db_url, engine, keys_dir, TODAY, profile)
    assert core.documents.sealer.profile_in_use == profile  # type: ignore[attr-defined]
    seed_demo(core.uow, 8, seed=2021, today=TODAY, now=core.clock.now(), signatures=8)
    cert = issue_to_a_demo_holder(core, 8, formats=("pdf", "ofd"))
    assert cert.pdf is not None and cert.ofd is not None
    stamped = ses.SESSignature.load(package_files(cert.ofd)[SIGNED_VALUE])["time_stamp"]
    assert isinstance(stamped, core_asn1.Void) == (profile == "B-B")  # R-DOC-6: SES_Signature.timeStamp
    assert _verdict(core, cert.pdf) == _verdict(core, cert.ofd) == ("valid", ["valid"])
    # later: the seal certificate has ended, and the authority has rotated to a new seal key; the certificate is
    # checked on the last day of its usage window
    checked = cert.usage_until
    assert checked > CERT_END.date()
    _short_lived_seal(keys_dir)
    _short_lived_sm2_seal(keys_dir)
    rotated = _app(db_url, engine, keys_dir, checked, profile)
    assert _verdict(rotated, cert.pdf) == later
    assert _verdict(rotated, cert.ofd) == later
    if profile == "B-T":  # the OFD's time-stamp must be of its own signature value
        foreign = stamp_bytes(core.timestamper, b"another signature value")
        assert _verdict(rotated, _with_time_stamp(cert.ofd, foreign)) == ("untrusted", ["untrusted_signer"])
        # independent reader: pdfsig reads the time-stamped seal of the certificate as it was issued (its NSS
        # judges the certificate at today's date, after the 2021 seal certificate's end)
        (tmp_path / "issued.pdf").write_bytes(cert.pdf)
        out = pdfsig(make_nss_db(tmp_path / "nss", keys_dir / pki.ROOT_CERT), tmp_path / "issued.pdf")
        assert "Signature Validation: Signature is Valid." in out and "Total document signed" in out, out


def _with_time_stamp(ofd: bytes, token: bytes) -> bytes:
    """The OFD with another token in SES_Signature.timeStamp (outside what the SM2 signature covers)."""
    files = package_files(ofd)
    signature = ses.SESSignature.load(files[SIGNED_VALUE])
    signature["time_stamp"] = core_asn1.OctetBitString(token)
    files[SIGNED_VALUE] = signature.dump(force=True)
    return zip_package(files.items())
