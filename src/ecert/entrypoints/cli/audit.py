"""``ecert audit …``: the audit log's check and its signed checkpoint (R-ACC-1; adapters/db/audit.py,
docs/cli.md). Both sequence what is committed first, so the answer covers every event written."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ecert.adapters.db.audit import latest_checkpoint
from ecert.adapters.files import check_output_file, read_input, write_output
from ecert.domain.errors import BadInput, problem
from ecert.entrypoints.cli.common import Invocation, JsonOut
from ecert.services.views import authority

audit_cli = typer.Typer(help="审计日志 / the audit log (R-ACC-1)", no_args_is_help=True)
MAX_CHECKPOINT = 64 * 1024  # a checkpoint is a few hundred bytes


def _note(path: Path) -> str:
    data = read_input(path, max_bytes=MAX_CHECKPOINT)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        zh, en = f"{path} 不是检查点文本(UTF-8)", f"{path} is not checkpoint text (UTF-8)"
        raise BadInput([problem(zh, en, column="--from-checkpoint")]) from exc


@audit_cli.command("verify")
def verify_cmd(
    ctx: typer.Context,
    from_checkpoint: Annotated[
        Path | None, typer.Option("--from-checkpoint", help="A checkpoint kept elsewhere (ecert audit checkpoint)")
    ] = None,
    json_out: JsonOut = False,
) -> None:
    """Check the audit log: every event against the Merkle tree, the tree against its signed
    checkpoint and, with --from-checkpoint, against an earlier one (consistency proof). Exit 1 if not intact."""
    inv = Invocation.of(ctx)
    with inv.command(json_out) as a:
        trusted = _note(from_checkpoint) if from_checkpoint is not None else None
        a.sequence_audit(full=True)
        found = authority.audit_chain(a.uow(), key=a.audit_key, trusted_note=trusted, lang=inv.lang())
        out = {k: found[k] for k in ("intact", "size", "checkpoint", "problems")}
        lines = [
            inv.say("审计日志完好", "audit log intact")
            if found["intact"]
            else inv.say("审计日志有问题", "audit log NOT intact")
        ]
        lines.append(inv.say(f"共 {found['size']} 条", f"{found['size']} leaves"))
        lines += [f"  [{p['code']}] {p['message']}" for p in found["problems"]]
        inv.emit(out, "\n".join(lines))
        if not found["intact"]:
            raise typer.Exit(1)


@audit_cli.command("checkpoint")
def checkpoint_cmd(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="File to write the signed checkpoint (text) to")],
    json_out: JsonOut = False,
) -> None:
    """Write the latest signed checkpoint (C2SP tlog-checkpoint in a signed note: origin, tree size,
    root hash, time; signed with the audit key) to --out, after sequencing what is committed."""
    inv = Invocation.of(ctx)
    with inv.command(json_out) as a:
        check_output_file(out, example="checkpoint.txt")
        a.sequence_audit(full=True)
        with a.uow() as uow:
            cp = latest_checkpoint(uow.connection, a.audit_key)
        assert cp is not None  # the sequencer always leaves one
        write_output(out, cp["note"].encode("utf-8"), example="checkpoint.txt")
        cp["out"] = str(out)
        inv.emit(cp, f"{out}: {cp['size']} · {cp['root_hash']} · {cp['time']}")
