"""The documents a reader gets with the repository are inside it: the README and every ``--help``
point only to files of the repository (docs/rules.md, docs/cli.md …), those files exist, their links
and anchors resolve, and docs/cli.md names every command, option and error code the code has."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from ecert.domain.messages import ERRORS
from ecert.entrypoints.cli import cli

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# Files that live next to a checkout on the authors' machines but not in the repository.
OUTSIDE = re.compile(r"\.\./shared|(?<![\w/])(?:contract|domain|STYLE|probe-notes)\.md")
DOC_REF = re.compile(r"(?<![\w/.])docs/[\w./-]+\.md")
MD_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _commands() -> Iterator[tuple[list[str], Any]]:
    def walk(cmd: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
        yield path, cmd
        for name, sub in sorted((getattr(cmd, "commands", None) or {}).items()):
            yield from walk(sub, [*path, name])

    yield from walk(typer.main.get_command(cli), [])


COMMANDS = list(_commands())


def _help(path: list[str]) -> str:
    res = CliRunner().invoke(cli, [*path, "--help"], env={"COLUMNS": "400", "TERMINAL_WIDTH": "400"})
    assert res.exit_code == 0, res.output
    return res.output


def _slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(md: Path) -> set[str]:
    return {_slug(m) for m in re.findall(r"^#+ (.+)$", md.read_text("utf-8"), re.MULTILINE)}


def _check_links(md: Path) -> list[str]:
    """Relative links of ``md`` whose file or anchor does not exist."""
    bad = []
    for target in MD_LINK.findall(md.read_text("utf-8")):
        if re.match(r"[a-z]+:", target):
            continue  # http(s):, mailto:
        file, _, anchor = target.partition("#")
        dest = (md.parent / file).resolve() if file else md
        missing_anchor = dest.exists() and bool(anchor) and dest.suffix == ".md" and anchor not in _anchors(dest)
        if not dest.exists() or missing_anchor:
            bad.append(target)
    return bad


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p) or "ecert")
def test_help_points_only_inside_the_repository(path: list[str]) -> None:
    text = _help(path)
    assert not OUTSIDE.findall(text), text
    for ref in DOC_REF.findall(text):
        assert (ROOT / ref).is_file(), ref


def test_readme_points_only_inside_the_repository() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    assert not OUTSIDE.findall(readme)
    refs = DOC_REF.findall(readme)
    assert {"docs/rules.md", "docs/cli.md"} <= set(refs)
    for ref in refs:
        assert (ROOT / ref).is_file(), ref
    assert _check_links(ROOT / "README.md") == []


@pytest.mark.parametrize("md", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_docs_links_and_anchors_resolve(md: Path) -> None:
    assert not OUTSIDE.findall(md.read_text("utf-8"))
    assert _check_links(md) == []


def test_source_comments_point_only_inside_the_repository() -> None:
    me = Path(__file__).resolve()
    found = []
    for top in ("src", "tests", "bench", "scripts"):
        for f in (ROOT / top).rglob("*"):
            generated = any(part.endswith(".egg-info") or part in ("__pycache__", "node_modules") for part in f.parts)
            if f.is_file() and not generated and f.resolve() != me and f.suffix in {".py", ".toml", ".html", ".md", ""}:
                text = f.read_text("utf-8", errors="replace")
                found += [f"{f.relative_to(ROOT)}: {m}" for m in OUTSIDE.findall(text)]
                found += [f"{f.relative_to(ROOT)}: {m}" for m in DOC_REF.findall(text) if not (ROOT / m).is_file()]
    assert found == []


def test_every_rule_id_cited_is_defined_in_docs_rules() -> None:
    defined = set(re.findall(r"^- \*\*(R-[A-Z]+-\d+)\*\*", (DOCS / "rules.md").read_text("utf-8"), re.MULTILINE))
    assert len(defined) >= 25
    cited: set[str] = set()
    for top in ("src", "tests"):
        for f in (ROOT / top).rglob("*.py"):
            text = f.read_text("utf-8")
            cited |= set(re.findall(r"(?<![A-Za-z])R-[A-Z]+-\d+", text))
            cited |= {m.replace("_", "-") for m in re.findall(r"(?<![A-Za-z])R_[A-Z]+_\d+", text)}
    assert cited - defined == set()


def test_docs_cli_names_every_command_option_and_error_code() -> None:
    doc = (DOCS / "cli.md").read_text("utf-8")
    missing = []
    for path, cmd in COMMANDS:
        if getattr(cmd, "commands", None):
            continue  # a group: its commands are checked
        if f"ecert {' '.join(path)}" not in doc:
            missing.append(" ".join(path))
        missing += [f"{' '.join(path)} {o}" for p in cmd.params for o in p.opts if o.startswith("--") and o not in doc]
    missing += [code for code in ERRORS if f"`{code}`" not in doc]
    assert missing == []


def test_readme_and_docs_cli_list_every_verification_reason_code() -> None:
    """The contract: ``reason_codes`` are stable and the README lists them all (docs/cli.md gives their sentences)."""
    from ecert.domain.verification import ReasonCode

    readme, doc = (ROOT / "README.md").read_text("utf-8"), (DOCS / "cli.md").read_text("utf-8")
    assert [c.value for c in ReasonCode if f"`{c.value}`" not in readme] == []
    assert [c.value for c in ReasonCode if f"| `{c.value}` |" not in doc] == []


def test_readme_and_docs_cli_list_every_attestation_reason_code() -> None:
    """Issue 13: the answers for a date have stable codes too; the README and docs/cli.md list them all."""
    from ecert.domain.history import DateCode

    readme, doc = (ROOT / "README.md").read_text("utf-8"), (DOCS / "cli.md").read_text("utf-8")
    assert [c.value for c in DateCode if f"| `{c.value}` |" not in readme] == []
    assert [c.value for c in DateCode if f"| `{c.value}` |" not in doc] == []
