"""R-DOC-6: SM2 keys and certificates, the GB/T 38540 v4 seal structures, and the OFD seal verifier's
refusals on a small hand-made package (the rendered certificate is in
tests/integration/adapters/documents/test_ofd.py)."""

from __future__ import annotations

import io
import stat
import warnings
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from ecert.adapters.documents.ofd_render import OFD_NS, SEAL_NAME_ON_PAGE, zip_package
from ecert.adapters.signing import ses
from ecert.adapters.signing.ofd_seal import MAX_ENTRIES, OfdSealCheck, OfdSealer, OfdSealVerifier, make_seal, unpack
from ecert.adapters.signing.sm2 import (
    SM2_ROOT_CN,
    SM2_SEAL_KEY,
    DemoSm2Pki,
    Sm2Key,
    demo_sm2_pki,
    issued_by,
    load_certificate,
    public_key_of,
    sm2_verify,
    sm3,
)

NOW = datetime(2025, 3, 1, 1, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def pki() -> DemoSm2Pki:
    return demo_sm2_pki(NOW)


def test_sm3_known_answer() -> None:
    # GB/T 32905 example 1: SM3("abc").
    assert sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


def test_sm2_sign_verify_and_pem_round_trip() -> None:
    key = Sm2Key.generate()
    assert Sm2Key.from_pem(key.to_pem()) == key
    sig = key.sign(b"R-DOC-6")
    assert sig[0] == 0x30  # DER SEQUENCE {r, s}
    assert sm2_verify(key.public, b"R-DOC-6", sig)
    assert not sm2_verify(key.public, b"another message", sig)
    assert not sm2_verify(key.public, b"R-DOC-6", b"\x30\x00")  # malformed: False, never an exception
    assert not sm2_verify(b"\x04" * 10, b"R-DOC-6", sig)


def test_a_p256_key_is_not_an_sm2_key() -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError, match="SM2"):
        Sm2Key.from_pem(pem)


def test_demo_pki_is_marked_and_chains(pki: DemoSm2Pki) -> None:
    root_subject = pki.root["tbs_certificate"]["subject"].native
    seal_subject = pki.seal["tbs_certificate"]["subject"].native
    assert root_subject["common_name"] == SM2_ROOT_CN and "DEMO" in SM2_ROOT_CN
    assert seal_subject["organizational_unit_name"] == "DEMO" and "DEMO" in seal_subject["common_name"]
    assert pki.seal["signature_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.501"
    assert public_key_of(pki.seal) == pki.seal_key.public
    assert issued_by(pki.seal, pki.root, NOW)
    assert not issued_by(pki.seal, pki.root, NOW + timedelta(days=3700))  # expired
    assert not issued_by(pki.seal, demo_sm2_pki(NOW).root, NOW)  # another root, same name


def test_demo_pki_files_round_trip(pki: DemoSm2Pki, tmp_path: Path) -> None:
    pki.write(tmp_path / "sm2")
    loaded = DemoSm2Pki.load(tmp_path / "sm2")
    assert (loaded.root_key, loaded.seal_key) == (pki.root_key, pki.seal_key)
    assert (loaded.root.dump(), loaded.seal.dump()) == (pki.root.dump(), pki.seal.dump())
    assert stat.S_IMODE((tmp_path / "sm2" / SM2_SEAL_KEY).stat().st_mode) == 0o600
    with pytest.raises(ValueError, match="SM2"):
        load_certificate(b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n")


def _png(colour: tuple[int, int, int, int] = (215, 0, 15, 255)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (48, 48), colour).save(buf, "PNG")
    return buf.getvalue()


def _seal(pki: DemoSm2Pki, picture: bytes) -> ses.SESeal:
    return make_seal(
        es_id="DEMO-1", picture_png=picture, signer_cert=pki.seal, maker_key=pki.root_key, maker_cert=pki.root,
        valid_start=NOW - timedelta(days=1), valid_end=NOW + timedelta(days=365),
    )  # fmt: skip


def test_seal_structure_round_trips(pki: DemoSm2Pki) -> None:
    seal = _seal(pki, _png())
    again = ses.SESeal.load(seal.dump(), strict=True)
    info = again["eseal_info"]
    assert (info["header"]["id"].native, info["header"]["version"].native) == ("ES", 4)
    assert info["property"]["cert_list"][0].native == pki.seal.dump()
    assert info["picture"]["type"].native == "PNG" and info["picture"]["data"].native == _png()
    # The seal maker signs the DER of esealInfo (as ofdrw and GM/T 0031 verifiers check it).
    assert sm2_verify(pki.root_key.public, info.dump(), bytes(again["signed_value"]))


def _package() -> dict[str, bytes]:
    """The smallest package the sealer accepts: one page showing the seal picture."""
    ns = f'xmlns:ofd="{OFD_NS}"'
    return {
        "OFD.xml": f"<ofd:OFD {ns}><ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody>"
        "</ofd:OFD>".encode(),
        "Doc_0/Document.xml": f'<ofd:Document {ns}><ofd:Pages><ofd:Page ID="9" BaseLoc="Pages/Page_0/Content.xml"/>'
        "</ofd:Pages></ofd:Document>".encode(),
        "Doc_0/DocumentRes.xml": f'<ofd:Res {ns} BaseLoc="Res"><ofd:MultiMedias><ofd:MultiMedia ID="1" Type="Image">'
        "<ofd:MediaFile>seal.png</ofd:MediaFile></ofd:MultiMedia></ofd:MultiMedias></ofd:Res>".encode(),
        "Doc_0/Pages/Page_0/Content.xml": f'<ofd:Page {ns}><ofd:ImageObject ID="2" Boundary="1 2 3 4" '
        f'ResourceID="1" Name="{SEAL_NAME_ON_PAGE}"/></ofd:Page>'.encode(),
        "Doc_0/Res/seal.png": _png(),
    }


@pytest.fixture(scope="module")
def sealed(pki: DemoSm2Pki) -> bytes:
    return OfdSealer(pki.seal_key, pki.seal, _seal(pki, _png())).seal_files(_package(), NOW)


def test_hand_made_package_seals_and_verifies(pki: DemoSm2Pki, sealed: bytes) -> None:
    check = OfdSealVerifier([pki.root]).check(sealed, NOW)
    assert check.problem is None and check.verdict.trusted
    assert b'PageRef="9" Boundary="1 2 3 4"' in dict(_entries(sealed))["Doc_0/Signs/Sign_0/Signature.xml"]
    # The SES_Signature written field by field is exactly what asn1crypto encodes from the parsed value.
    value = dict(_entries(sealed))["Doc_0/Signs/Sign_0/SignedValue.dat"]
    assert ses.SESSignature.load(value, strict=True).dump(force=True) == value
    with pytest.raises(ValueError, match="sealed already"):
        OfdSealer(pki.seal_key, pki.seal, _seal(pki, _png())).seal_package(sealed, NOW)


def _entries(package: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(package)) as z:
        return [(i.filename, z.read(i)) for i in z.infolist()]


def _raw_zip(names: list[str]) -> bytes:
    out = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w") as z:
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name this test wants
        for name in names:
            z.writestr(name, b"<x/>")
    return out.getvalue()


@pytest.mark.parametrize(
    ("package", "problem"),
    [
        (b"", "not_zip"),
        (b"PK\x03\x04 truncated", "not_zip"),
        (_raw_zip([f"f{i}.xml" for i in range(MAX_ENTRIES + 1)]), "zip_bomb"),
        (_raw_zip(["../OFD.xml"]), "unsafe_path"),
        (_raw_zip(["/OFD.xml"]), "unsafe_path"),
        (_raw_zip(["Doc_0\\..\\OFD.xml"]), "unsafe_path"),
        (_raw_zip(["OFD.xml", "OFD.xml"]), "unsafe_path"),
    ],
)
def test_unreadable_packages(package: bytes, problem: str) -> None:
    assert unpack(package) == problem


def test_a_dtd_is_refused(pki: DemoSm2Pki, sealed: bytes) -> None:
    files = dict(_entries(sealed))
    files["OFD.xml"] = b'<!DOCTYPE x [<!ENTITY a "aaaa">]>' + files["OFD.xml"]
    check = OfdSealVerifier([pki.root]).check(zip_package(files.items()), NOW)
    assert check.problem == "malformed" and not check.verdict.readable


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_damaged_packages_get_a_verdict_never_an_exception(pki: DemoSm2Pki, sealed: bytes, data: st.DataObject) -> None:
    damaged = bytearray(sealed)
    for _ in range(data.draw(st.integers(1, 4))):
        damaged[data.draw(st.integers(0, len(damaged) - 1))] ^= data.draw(st.integers(1, 255))
    check = OfdSealVerifier([pki.root]).check(bytes(damaged), NOW)
    assert isinstance(check, OfdSealCheck)
    if check.problem is None:  # only a flip that changed nothing the seal covers (zip metadata) may pass
        assert dict(_entries(bytes(damaged))) == dict(_entries(sealed))
