"""Fuzz the PDF verifier (services.verification.verify_pdf: the seal check of adapters.sealing, the signed
metadata of adapters.pdf_inspect, the QR binding, the issuance record and the registry), issue 16 §5.

Oracle, for every input: ``verify_pdf`` returns a verdict (any exception is a crash), and a file whose
signed bytes changed — the bytes the genuine certificate's ``/ByteRange`` covers, read at the same offsets —
is never judged ``valid``. Bytes outside the signed range (inside ``/Contents``, or appended after the
file) may change without changing the verdict; the signed ones may not.

    PYTHONPATH=src .venv/bin/python fuzz/fuzz_pdf.py -max_total_time=60
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["ecert", "pyhanko"]):
    sys.path.insert(0, str(Path(__file__).parent))
    import world

    from ecert import testing


def main() -> None:
    w = world.build_world()
    genuine = w.pdf
    m = re.search(rb"/ByteRange\s*\[\s*0\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", genuine)
    assert m is not None, "the genuine certificate has no /ByteRange"
    a, b, c = (int(g) for g in m.groups())
    signed = genuine[:a] + genuine[b : b + c]

    def signed_bytes_changed(data: bytes) -> bool:
        return data[:a] + data[b : b + c] != signed

    def verdict(data: bytes) -> str:
        result = testing.verify_pdf(w.app, data)
        return "valid" if world.LIE else str(result.status)

    def one_input(data: bytes) -> str:
        status = verdict(data)
        if status == "valid" and signed_bytes_changed(data):
            raise world.WrongVerdict("a PDF whose signed bytes changed was judged valid")
        return status

    flipped = bytearray(genuine)
    flipped[a // 2] ^= 0x01
    world.check_oracle("the genuine certificate", lambda: verdict(genuine), True)
    world.check_oracle("a flipped signed byte", lambda: verdict(bytes(flipped)), False)
    unsealed = genuine[: genuine.index(b"%%EOF") + 6]  # the rendered page before the seal's update
    world.run("pdf", one_input, [genuine, unsealed, genuine + b"\n% appended\n"], max_len=len(genuine) + 4096)


if __name__ == "__main__":
    main()
