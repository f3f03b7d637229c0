"""ecert's verdict on a certificate PDF equals pyHanko's own validation, file by file (R-DOC-2; issue 6).

The tamper set and the mapping of pyHanko's result onto ecert's categories are ``bench/verify.py``'s (imported
from there, so the benchmark and this test judge the same files the same way). The fast seal check
(``adapters/signing/fast_verify.py``) may only ever answer "valid": every other file must reach pyHanko.
"""

from __future__ import annotations

import importlib.util
import logging
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ecert.adapters import pdf_inspect
from ecert.adapters.sealing import PdfSignatureChecker

BENCH = Path(__file__).resolve().parents[4] / "bench"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _bench() -> ModuleType:
    _load("harness", BENCH / "harness.py")  # what bench/verify.py imports from its folder
    return _load("ecert_bench_verify", BENCH / "verify.py")


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return _bench()


@pytest.fixture(scope="module")
def tamper(bench: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    s = bench.setup(tmp_path_factory.mktemp("verify-parity"), holders=20)
    yield s
    s.app.engine.dispose()


def test_every_file_of_the_tamper_set_gets_pyhankos_verdict__R_DOC_2(bench: ModuleType, tamper: Any) -> None:
    rows, differ = bench.compare(tamper)
    table = "\n".join(f"{r['file']}: baseline={r['baseline']} seal={r['ecert_seal']} ecert={r['ecert']}" for r in rows)
    assert not differ, table
    by_file = {r["file"]: r for r in rows}
    # The set must exercise every category, or agreeing would prove little.
    assert by_file["intact"]["ecert"] == "valid"
    assert by_file["update: DSS added (benign)"]["ecert"] == "valid"
    assert by_file["re-sealed with a foreign self-signed key"]["ecert"] == "untrusted"
    assert by_file["flip: page content stream"]["ecert"] == "tampered"
    assert by_file["update: annotation added"]["ecert"] == "tampered"
    assert by_file["truncated: half"]["ecert"] == "indeterminate"
    # ecert is stricter than pyHanko on exactly one thing: the zero padding nobody signs.
    assert by_file["/Contents zero padding changed (unsigned bytes)"]["ecert"] == "tampered"


def test_the_fast_check_answers_only_for_intact_seals(tamper: Any) -> None:
    checker = tamper.app.signature_checker
    moment = tamper.app.clock.now()
    checker(tamper.signed, moment)  # pyHanko's validation teaches the checker the DEMO seal certificate
    fast = checker._fast
    assert fast.check(tamper.signed, moment), "the intact certificate must take the fast path"
    for name, pdf in {**tamper.files, **tamper.stricter}.items():
        if name != "intact":
            assert not fast.check(pdf, moment), name


def test_the_fast_check_knows_no_signer_before_pyhanko_trusted_it(tamper: Any) -> None:
    moment = tamper.app.clock.now()
    fresh = PdfSignatureChecker(tamper.app.signature_checker.roots)
    assert not fresh._fast.check(tamper.signed, moment)
    assert fresh(tamper.signed, moment).trusted
    assert fresh._fast.check(tamper.signed, moment)
    # …and only within the validity of the path pyHanko built (the DEMO seal certificate is not valid in 1999).
    assert not fresh._fast.check(tamper.signed, moment.replace(year=1999))
    assert not fresh(tamper.signed, moment.replace(year=1999)).trusted


def test_random_byte_changes_get_pyhankos_verdict__R_DOC_2(bench: ModuleType, tamper: Any) -> None:
    moment = tamper.app.clock.now()
    checker = tamper.app.signature_checker
    signed = tamper.signed
    rng = random.Random(20210301)
    for offset in rng.sample(range(len(signed)), 40):
        changed = bytearray(signed)
        changed[offset] = (changed[offset] + 1 + rng.randrange(254)) % 256
        pdf = bytes(changed)
        base = bench.baseline_verdict(pdf, tamper.trust_roots_asn1, moment)
        ours = bench.signature_verdict(checker(pdf, moment))
        if base == "valid" and ours == "tampered":  # the one stricter check: padding after the CMS
            assert bench.byte_range(signed)[1] < offset < bench.byte_range(signed)[2], offset
            continue
        assert ours == base, (offset, ours, base)


def test_direct_metadata_reader_agrees_with_pyhanko(tamper: Any) -> None:
    compared, unsupported = [], []
    for name, pdf in tamper.files.items():
        try:
            fast = pdf_inspect._fast_metadata(pdf)
        except pdf_inspect._Unsupported:
            unsupported.append(name)
            continue
        except Exception as e:  # it must never crash on anything but an unsupported file
            raise AssertionError(name) from e
        assert fast == pdf_inspect._pyhanko_metadata(pdf), name
        compared.append(name)
    # The direct reader must actually judge the tamper set, not hand every file but the intact one
    # to pyHanko: every single-revision file (the intact one, each flipped byte, a foreign re-seal)
    # is read by it and compared; incremental updates and broken files go to pyHanko by design.
    single_revision = {n for n in tamper.files if n == "intact" or n.startswith(("flip:", "re-sealed"))}
    assert len(single_revision) >= 8 and single_revision <= set(compared), (compared, unsupported)
    fast = pdf_inspect._fast_metadata(tamper.signed)
    assert fast is not None and set(fast) == {"EcertContent", "EcertQR"}
