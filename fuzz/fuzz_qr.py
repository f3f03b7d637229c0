"""Fuzz the QR token decoder (adapters.qr_token.decode, R-DOC-4) through the QR check it serves
(services.verification.verify_qr: the token, the issuance record, the registry), issue 16 §5.

Oracle, for every input (read as UTF-8, undecodable bytes replaced, as a scanner's text would be):

- ``decode`` returns claims or raises ``TokenError`` (the decoder's one error type), nothing else;
- ``verify_qr`` returns a verdict, never raises;
- a text whose signed bytes changed — the token's Base32 body and signature, decoded — never decodes and is
  never judged ``valid``. What is around the token (the URL, its case, a query) is not signed.

    PYTHONPATH=src .venv/bin/python fuzz/fuzz_qr.py -max_total_time=60
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["ecert"]):
    sys.path.insert(0, str(Path(__file__).parent))
    import world

    from ecert.adapters.qr_token import TokenError, decode, extract_token
    from ecert.services.verification import verify_qr


def raw_of(text: str) -> bytes | None:
    """The signed bytes a text carries (its token, Base32-decoded), or None if it carries none."""
    try:
        token = extract_token(text)
        return base64.b32decode(token + "=" * (-len(token) % 8))
    except (TokenError, ValueError):
        return None


def main() -> None:
    w = world.build_world()
    app = w.app
    keys = app.qr_public_keys
    genuine = raw_of(w.qr)
    assert genuine is not None

    def verdict(text: str) -> str:
        result = verify_qr(app.uow(), text, keys=keys, today=app.clock.today(), policy=app.policy)
        return "valid" if world.LIE else str(result.status)

    def one_input(data: bytes) -> str:
        text = data.decode("utf-8", "replace")
        changed = raw_of(text) != genuine
        try:
            decode(text, keys)
            if changed:
                raise world.WrongVerdict("a token whose signed bytes changed decoded")
        except TokenError:
            pass
        status = verdict(text)
        if status == "valid" and changed:
            raise world.WrongVerdict("a QR text whose signed bytes changed was judged valid")
        return status

    token = w.qr.split("/V/", 1)[1]
    flipped = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    world.check_oracle("the genuine QR text", lambda: verdict(w.qr), True)
    world.check_oracle("a changed token character", lambda: verdict(flipped), False)
    seeds = [w.qr.encode(), token.encode(), w.qr.lower().encode(), f"{w.qr}?src=scan".encode()]
    world.run("qr", one_input, seeds, max_len=700)


if __name__ == "__main__":
    main()
