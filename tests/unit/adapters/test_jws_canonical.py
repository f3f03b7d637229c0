"""The fast canonical JSON of adapters/signing/jws.py writes the same bytes as the rfc8785 package (RFC 8785)
for every document it takes, and leaves the rest (floats, non-ASCII keys, big integers) to the package."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785

from ecert.adapters.signing import jws
from ecert.adapters.signing.jws import canonical

SAMPLES: list[dict[str, Any]] = [
    {"b": 1, "a": [True, False, None, "x"], "c": {"z": "", "y": -(2**53) + 1}},
    {"s": '控制\u0000\u0001\u001f\b\t\n\f\r"\\/\u007f\u2028\u2029 𠮷 é', "n": 2**53 - 1},
    {"rows": [{"row": i, "reasons": ["非本单位人员"], "name": None, "ok": i % 2 == 0} for i in range(50)]},
    {"formula": '\'=HYPERLINK("http://x","y")', "nested": [[[]], {}]},
]


def _package_calls(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Calls of the package from adapters/signing/jws.py (the fast path makes none)."""
    calls: list[object] = []
    real = rfc8785.dumps

    def spy(doc: Any) -> bytes:
        calls.append(doc)
        return real(doc)

    monkeypatch.setattr(jws.rfc8785, "dumps", spy)
    return calls


@pytest.mark.parametrize("doc", SAMPLES)
def test_the_fast_path_writes_the_bytes_rfc8785_writes(doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    expected = rfc8785.dumps(doc)
    calls = _package_calls(monkeypatch)
    assert canonical(doc) == expected
    assert calls == []  # written by the fast path


@pytest.mark.parametrize("doc", [{"f": 1.5}, {"é": 1}, {"n": 2**60}, {"s": "\ud800"}])
def test_what_the_fast_path_does_not_take_goes_through_the_package(
    doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _package_calls(monkeypatch)
    if "s" in doc or "n" in doc:
        with pytest.raises(Exception):  # noqa: B017 - the package's own refusals: a lone surrogate, 2**60
            canonical(doc)
    else:
        assert canonical(doc) == rfc8785.dumps(doc)
    assert len(calls) >= 1  # handed to the package, not written by json.dumps
