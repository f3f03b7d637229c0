"""``ecert attest`` and ``ecert keys export --jwks``: a signed answer to "was it valid on date T?" and
the public keys that check it (issue 13, docs/cli.md)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from ecert.adapters.files import check_output_file, read_input, write_output
from ecert.adapters.signing.jws import jwks
from ecert.domain import ids
from ecert.domain.errors import BadInput, problem
from ecert.entrypoints.cli.common import Invocation, JsonOut, moment
from ecert.services import attestation, verification
from ecert.services.attestation import Attestation

TARGET_HELP = "A registration number, a certificate file (PDF/OFD) or what a scanner read from its QR code"


def parse_day(value: str, column: str = "date") -> date:
    """``YYYY-MM-DD`` or ``bad_input`` naming the option."""
    v = value.strip()
    try:
        if len(v) != 10:
            raise ValueError
        return date.fromisoformat(v)
    except ValueError:
        raise BadInput(
            [problem(f"日期格式应为 YYYY-MM-DD,实际为“{v}”", f"Date must be YYYY-MM-DD, got {v!r}", column=column)]
        ) from None


def attest_cmd(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            metavar="REG_NO|FILE|QR_TEXT",
            help="A registration number, a certificate file (PDF/OFD) or what a scanner read from its QR code",
        ),
    ],
    on: Annotated[str, typer.Option("--date", help="The date asked about, YYYY-MM-DD")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the sealed one-page PDF of the attestation")
    ] = None,
    json_out: JsonOut = False,
) -> None:
    """Was it valid on that date? One signed answer (JWS, key id as in ``keys export --jwks``)."""
    inv = Invocation.of(ctx)
    with inv.command(json_out) as a:
        day = parse_day(on)
        if out is not None:
            check_output_file(out, example="attestation.pdf")
        signer, now, lang = a.attestation_signer, a.clock.now(), inv.lang()
        path = Path(target)
        att: Attestation
        if path.is_file():
            data = read_input(path)
            verdict = verification.verify_pdf(
                a.uow(), data, check_signature=a.signature_checker, keys=a.qr_public_keys, policy=a.policy,
                check_ofd=a.ofd_checker if verification.is_ofd(data) else None, **moment(a),
            )  # fmt: skip
            att = attestation.attest_verified(a.uow(), verdict, day, now=now, policy=a.policy, signer=signer, lang=lang)
        else:
            try:
                ids.parse_registration_no(target)
            except BadInput:  # not a registration number: what a scanner read
                verdict = verification.verify_qr(
                    a.uow(), target, keys=a.qr_public_keys, today=a.clock.today(), policy=a.policy
                )
                att = attestation.attest_verified(
                    a.uow(), verdict, day, now=now, policy=a.policy, signer=signer, lang=lang
                )
            else:
                att = attestation.attest(a.uow(), target.strip(), day, now=now, policy=a.policy, signer=signer)
        d = att.as_dict(lang)
        if out is not None:
            write_output(out, a.attestation_pdf(att, lang), example="attestation.pdf")
            d["pdf"] = str(out)
        verdict_word = inv.say("有效", "valid") if d["valid_on_date"] else inv.say("无效", "not valid")
        inv.emit(d, f"{d['date']}: {verdict_word} — " + "; ".join(d["reasons"]) + f"\n{d['attestation']}")


def keys_export(
    ctx: typer.Context,
    as_jwks: Annotated[bool, typer.Option("--jwks", help="The QR/attestation public keys as a JWK Set")] = False,
    out: Annotated[Path, typer.Option("--out", help="JSON file to write")] = Path("jwks.json"),
) -> None:
    """Write the QR/attestation public keys (current and retired) as a JWKS (RFC 7517)."""
    inv = Invocation.of(ctx)
    with inv.errors():
        if not as_jwks:
            raise BadInput([problem("请指定 --jwks", "Give --jwks (the only export format)", column="jwks")])
        check_output_file(out, example="jwks.json")
        keys = inv.app().qr_public_keys
        body = json.dumps(jwks(keys), ensure_ascii=False, indent=2) + "\n"
        write_output(out, body.encode("utf-8"), example="jwks.json")
        typer.echo(f"{out}", err=True)
