"""Fuzz the registry importer: the readers of adapters.importing (CSV in UTF-8 or GB18030, XLSX) and the
import use case over them (services.registry_import.import_registry: row checks, staging, cross-row checks,
the merge), on SQLite, issue 16 §5.

Oracle, for every input (written as the file being imported):

- the import succeeds or raises an ``EcertError`` (ecert's root error, with its stable code), nothing else;
- a refused file changes nothing: the registry, its versions and supersessions, the images and the audit
  log read the same before and after (the file is rolled back whole).

Seeds: the registry export of the world's DEMO registry (the CSV that ``import`` takes back), the same rows
in GB18030 and as an XLSX workbook.

    PYTHONPATH=src .venv/bin/python fuzz/fuzz_import.py -max_total_time=60
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["ecert"]):
    sys.path.insert(0, str(Path(__file__).parent))
    import world

    from ecert.domain.errors import EcertError
    from ecert.services.registry_import import import_registry
    from ecert.services.views.export import export

from openpyxl import Workbook
from sqlalchemy import text

# What a refused import must leave as it was: every table an import writes to.
FINGERPRINT = text(
    "SELECT (SELECT count(*) FROM registrations), (SELECT coalesce(sum(data_version), 0) FROM registrations),"
    " (SELECT count(*) FROM specialty_registrations), (SELECT count(*) FROM holder_images),"
    " (SELECT count(*) FROM registration_versions), (SELECT count(*) FROM specialty_versions),"
    " (SELECT count(*) FROM supersessions), (SELECT count(*) FROM audit_events),"
    " (SELECT coalesce(max(id), 0) FROM audit_events)"
)


def xlsx_of(csv_text: str) -> bytes:
    import csv

    wb = Workbook()
    ws = wb.active
    for row in csv.reader(io.StringIO(csv_text)):
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def main() -> None:
    w = world.build_world()
    app = w.app
    shm = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
    folder = Path(tempfile.mkdtemp(prefix="ecert-fuzz-import-", dir=shm))
    exported = folder / "registry.csv"
    export(app.uow(), kind="registry", fmt="csv", out=exported)
    csv_text = exported.read_text(encoding="utf-8")
    target = folder / "roster.csv"

    def fingerprint() -> tuple[object, ...]:
        with app.engine.connect() as conn:
            return tuple(conn.execute(FINGERPRINT).one())

    def one_input(data: bytes) -> str:
        target.write_bytes(data)
        before = fingerprint()
        try:
            result = import_registry(
                app.uow(), target, today=world.TODAY, now=app.clock.now(), actor="fuzz"
            )  # fmt: skip
        except EcertError as exc:
            if fingerprint() != before and not world.LIE:
                raise world.WrongVerdict(f"a refused import ({exc.code}) changed the registry") from exc
            if world.LIE:
                raise world.WrongVerdict("ECERT_FUZZ_LIE: every refusal called a change") from exc
            return f"refused:{exc.code}"
        return "imported" if result.imported or result.updated else "unchanged"

    world.check_oracle(
        "the registry's own export", lambda: one_input(csv_text.encode()).replace("unchanged", "valid"), True
    )
    bad_date = csv_text.replace("-", "/", 3).encode()  # the first row's birth date in another form: refused
    world.check_oracle(
        "a bad date", lambda: "valid" if one_input(bad_date) != "refused:bad_input" else "refused", False
    )
    seeds = [csv_text.encode("utf-8"), csv_text.encode("gb18030"), xlsx_of(csv_text)]
    world.run("import", one_input, seeds, max_len=max(map(len, seeds)) + 4096)


if __name__ == "__main__":
    main()
