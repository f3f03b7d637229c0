"""bench/ofd.py (issue 12 item 7) times what it says: its baseline's package is a certificate (the converted
page still scans to the QR text), its pure-Python SM2 signature is a real one (GmSSL verifies it), and its
verification refuses a changed page, a file the manifest does not list and another key; and on the bench's
production-like keys the real issuance gives an OFD that the real verification calls valid (R-DOC-6)."""

from __future__ import annotations

import importlib.util
import io
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from ecert.adapters.documents import CertificateRenderer
from ecert.adapters.signing.sm2 import Sm2Key, sm2_verify
from helpers_documents import QR_TEXT, need, render_sample, sample_content

BENCH = Path(__file__).resolve().parents[4] / "bench"

# PyMuPDF (under both converters) is a SWIG module, which Python's import machinery warns about.
pytestmark = pytest.mark.filterwarnings("ignore:builtin type .* has no __module__ attribute:DeprecationWarning")


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    for module in ("easyofd", "gmssl", "zxingcpp"):
        need(module)
    _load("harness", BENCH / "harness.py")  # what bench/ofd.py imports from its folder
    return _load("ecert_bench_ofd", BENCH / "ofd.py")


@pytest.fixture(scope="module")
def key() -> Sm2Key:
    return Sm2Key.generate()


@pytest.fixture(scope="module")
def package(bench: ModuleType, key: Sm2Key) -> bytes:
    pdf = render_sample(CertificateRenderer().render, sample_content(3))
    return bytes(bench.baseline_issue(pdf, bench.GmsslKey(key.private, key.public)))


def _page(package: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(package)) as z:
        return max((i for i in z.infolist() if i.filename.startswith("Doc_0/Res/")), key=lambda i: i.file_size).filename


def test_the_baseline_verifies_its_own_package(bench: ModuleType, key: Sm2Key, package: bytes) -> None:
    assert bench.baseline_verify(package, bench.GmsslKey(b"", key.public))
    assert bench.page_picture_qr(package) == QR_TEXT
    with zipfile.ZipFile(io.BytesIO(package)) as z:
        manifest, signature = z.read(bench.MANIFEST), z.read(bench.SIGNED_VALUE)
    assert sm2_verify(key.public, manifest, signature)  # GmSSL agrees: real SM2 with the default user ID


def test_the_baseline_refuses_a_changed_page_an_extra_file_and_another_key(
    bench: ModuleType, key: Sm2Key, package: bytes
) -> None:
    pub = bench.GmsslKey(b"", key.public)
    assert not bench.baseline_verify(bench.flip_in(package, _page(package)), pub)
    assert not bench.baseline_verify(bench.flip_in(package, bench.MANIFEST, 0.9), pub)
    out = io.BytesIO(package)
    with zipfile.ZipFile(out, "a") as z:
        z.writestr("Doc_0/Res/extra.png", b"not covered")
    assert not bench.baseline_verify(out.getvalue(), pub)
    assert not bench.baseline_verify(package, bench.GmsslKey(b"", Sm2Key.generate().public))
    assert not bench.baseline_verify(b"not a zip", pub)


def test_the_sm2_only_variant_and_a_public_key_starting_with_04_sign_for_real(bench: ModuleType) -> None:
    """gmssl strips leading "0" and "4" digits off a public key given without its 04 prefix; the bench's key
    sets it back."""
    k = Sm2Key.generate()
    while k.public[0] != 0x04:
        k = Sm2Key.generate()
    message = b"<ofd:Signature/>"
    for sm2_only in (False, True):
        signature = bench.GmsslKey(k.private, k.public, sm2_only=sm2_only).sign(message)
        assert sm2_verify(k.public, message, signature)
        assert bench.GmsslKey(b"", k.public, sm2_only=sm2_only).verify(message, signature)
        assert not bench.GmsslKey(b"", k.public, sm2_only=sm2_only).verify(message + b" ", signature)


def test_the_bench_setup_issues_and_verifies_through_the_services__R_DOC_6(bench: ModuleType, tmp_path: Path) -> None:
    s = bench.setup(tmp_path, holders=12)
    try:
        assert not s.app.demo_seal  # production-like keys: the page a deployment prints, no DEMO mark
        checked = bench.check(s)  # asserts both sides' verdicts, the tampered ones included
        assert checked["ecert"] == "valid" and checked["ecert_tampered"] == "tampered"
        assert checked["baseline_qr_scans"] and not checked["baseline_tampered_verifies"]
    finally:
        s.app.engine.dispose()
