"""Fuzz the OFD reader and seal check (R-DOC-6): services.verification.verify_pdf on an OFD package, through
adapters.signing.ofd_seal (the package reader ``unpack``, the GB/T 38540 signature, the seal) and the
certificate data it carries (``custom_data``), issue 16 §5.

Oracle, for every input: a verdict, never an exception; and a package whose signed bytes changed is never
judged ``valid``. The seal covers every file of the package by its SM3 digest (a file it does not cover is
refused), so the signed bytes are the files' contents: a ``valid`` package must unpack to exactly the
genuine certificate's files. The zip container around them (compression, order, comments) is not signed.

Byte mutations of a zip mostly break its CRCs, and the reader stops there; so the mutator (a libFuzzer custom
mutator) usually opens the package, mutates one file in it (the small XML and DER files more often than the
font and images), or drops, adds or renames one, and zips it again; now and then it mutates the raw bytes.

    PYTHONPATH=src .venv/bin/python fuzz/fuzz_ofd.py -max_total_time=60
"""

from __future__ import annotations

import io
import random
import sys
import zipfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["ecert"]):
    sys.path.insert(0, str(Path(__file__).parent))
    import world

    from ecert import testing
    from ecert.adapters.signing.ofd_seal import unpack


def restored(files: dict[str, bytes], *, stored: bool) -> bytes:
    """The same files in another zip container (stored, not deflated): still a valid certificate."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return out.getvalue()


def mutate(data: bytes, max_size: int, seed: int) -> bytes:
    rng = random.Random(seed)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            files = {i.filename: z.read(i) for i in z.infolist()}
    except Exception:
        files = {}
    if not files or rng.random() < 0.1:
        return atheris.Mutate(data, max_size)
    names = sorted(files)
    roll = rng.random()
    if roll < 0.85:  # one file's bytes; small files (XML, DER) weigh more than the font and the images
        name = rng.choices(names, weights=[1 / (1 + len(files[n]) / 4096) for n in names])[0]
        files[name] = atheris.Mutate(files[name], len(files[name]) + 256)
    elif roll < 0.9:
        del files[rng.choice(names)]
    elif roll < 0.95:
        files[f"Doc_0/extra{rng.randrange(9)}.xml"] = b"<x/>"
    else:
        name = rng.choice(names)
        files[name[:-1] + rng.choice("x/.%")] = files.pop(name)
    out = restored(files, stored=True)
    return out if len(out) <= max_size else data


def main() -> None:
    w = world.build_world()
    genuine = w.ofd
    files = unpack(genuine)
    assert isinstance(files, dict), files

    def verdict(data: bytes) -> str:
        result = testing.verify_pdf(w.app, data)
        return "valid" if world.LIE else str(result.status)

    def one_input(data: bytes) -> str:
        status = verdict(data)
        if status == "valid" and unpack(data) != files:
            raise world.WrongVerdict("an OFD package whose signed files changed was judged valid")
        return status

    page = "Doc_0/Pages/Page_0/Content.xml"
    edited = dict(files)
    edited[page] = files[page].replace(b"<", b" <", 1)
    world.check_oracle("the genuine certificate", lambda: verdict(genuine), True)
    world.check_oracle("the same files stored", lambda: verdict(restored(files, stored=True)), True)
    world.check_oracle("an edited page", lambda: verdict(restored(edited, stored=True)), False)
    # Seeds: the package as issued, and stored (uncompressed): mutations then reach the XML and the DER.
    seeds = [genuine, restored(files, stored=True)]
    world.run("ofd", one_input, seeds, max_len=max(map(len, seeds)) + 65536, custom_mutator=mutate)


if __name__ == "__main__":
    main()
