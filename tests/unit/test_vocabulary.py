"""No term is written outside the catalogue (issue 10 "First impressions").

A term — the word for a stored code: a registration, specialty, certificate or application state,
a gender, a role, yes/no — comes from domain/messages.py and nowhere else, so a state has one name
on every page, in the CLI and in messages. This scans the Python sources and the templates for a
term word written as a value of its own: a string literal (or a piece of an f-string) that is the
word, a ``t('中文', 'English')`` pair whose either side is the word, a template text node that is the
word. Prose that uses the word inside a sentence is prose, not a rendered value, and is not flagged.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from ecert.domain import messages

SRC = Path(messages.__file__).resolve().parents[1]
TEMPLATES = SRC / "entrypoints" / "web" / "templates"
CATALOGUE = Path(messages.__file__).resolve()

# Words that named a state before the vocabulary was one (issue 10): they must not come back.
FORMER_WORDS_ZH = {"可延续", "暂停", "有效(可申请延续)", "已承诺完成继续教育"}
FORMER_WORDS_EN = {"Ended", "Renewable", "valid (renewable)", "Committed to continuing education"}

# Where a term's word is legitimately a literal: the stored code of a gender is the word itself.
ALLOWED = {("domain/model.py", "男"), ("domain/model.py", "女")}

TERM_KINDS = ("status.", "gender.", "role.", "answer.", "commitment.", "signature.")
EDGES = " \t\n:,;()/·-—"  # what may surround a word written as a value: "{no}: 已撤销"


def _bare(s: str) -> str:
    return s.strip(EDGES)


def _term_words() -> tuple[set[str], set[str]]:
    zh = {_bare(w) for w in FORMER_WORDS_ZH}
    en = {_bare(w) for w in FORMER_WORDS_EN}
    for key, (z, e) in messages.TERMS.items():
        if key.startswith(TERM_KINDS):
            zh.add(_bare(z))
            en.add(_bare(e))
    return zh, en


ZH_WORDS, EN_WORDS = _term_words()


def _docstring_ids(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def literal_terms(source: str) -> list[tuple[int, str]]:
    """(line, word) of every string literal in ``source`` that is a term word by itself. Chinese
    words are matched exactly; English ones with their capital, as shown (``"valid"`` is a code)."""
    tree = ast.parse(source)
    docstrings = _docstring_ids(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            word = _bare(node.value)
            if word in ZH_WORDS or word in EN_WORDS:
                found.append((node.lineno, word))
    return found


T_PAIR = re.compile(r"""\bt\(\s*'((?:[^'\\]|\\.)*)'\s*,\s*'((?:[^'\\]|\\.)*)'\s*\)""")
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
JINJA_LITERAL = re.compile(r"""'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)\"""")
TAG = re.compile(r"<[^>]*>")


def template_terms(source: str) -> list[tuple[int, str]]:
    """(line, word) of every term word written into a template: a side of a ``t()`` pair, a string
    literal inside ``{{ }}`` / ``{% %}`` (Chinese exactly, English with its capital), or a text node."""
    found = []

    def line_of(pos: int) -> int:
        return source.count("\n", 0, pos) + 1

    en_lower = {w.lower() for w in EN_WORDS}
    for m in T_PAIR.finditer(source):
        zh, en = _bare(m.group(1)), _bare(m.group(2))
        if zh in ZH_WORDS or en.lower() in en_lower:
            found.append((line_of(m.start()), zh if zh in ZH_WORDS else en))
    for block in JINJA.finditer(source):
        code = T_PAIR.sub("", block.group(0))
        for lit in JINJA_LITERAL.finditer(code):
            word = _bare(lit.group(1) or lit.group(2) or "")
            if word in ZH_WORDS or word in EN_WORDS:
                found.append((line_of(block.start()), word))
    blank = lambda m: "\0" * len(m.group(0))  # noqa: E731 - keeps every position where it was
    text_only = TAG.sub(blank, JINJA.sub(blank, source))
    for chunk in re.finditer(r"[^\0]+", text_only):
        word = _bare(chunk.group(0))
        if word and (word in ZH_WORDS or word.lower() in en_lower):
            found.append((line_of(chunk.start() + chunk.group(0).index(word)), word))
    return found


def _python_files() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if p.resolve() != CATALOGUE)


def test_the_scan_finds_what_it_looks_for__issue_10() -> None:
    """The scanners themselves: each way of writing a term inline is caught, prose is not."""
    assert literal_terms('WORDS = {"active": ("正常", "Active")}\n') == [(1, "正常"), (1, "Active")]
    assert literal_terms('x = f"{reg}: 已撤销"\n') == [(1, "已撤销")]
    assert literal_terms('"""正常"""\nx = "valid"\ny = "注册已撤销,不能办理"\n') == []
    assert template_terms("<dd>{{ t('是', 'yes') if x else t('否', 'no') }}</dd>") == [(1, "是"), (1, "否")]
    assert template_terms("<td>\n  已被更新</td>") == [(2, "已被更新")]
    assert template_terms("{{ 'Female' if g == '女' else 'Male' }}") == [(1, "Female"), (1, "女"), (1, "Male")]
    assert template_terms("{% if h.status != 'active' %}{{ t('注册已撤销。', 'Revoked.') }}{% endif %}") == []
    assert template_terms("<dd>{{ term('status.registration', h.status) }}</dd>") == []


@pytest.mark.parametrize("path", _python_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_term_is_written_in_python_outside_the_catalogue__issue_10(path: Path) -> None:
    rel = path.relative_to(SRC).as_posix()
    found = [(line, w) for line, w in literal_terms(path.read_text("utf-8")) if (rel, w) not in ALLOWED]
    assert not found, f"{rel}: term words outside domain/messages.py (use messages.term): {found}"


@pytest.mark.parametrize("path", sorted(TEMPLATES.glob("*.html")), ids=lambda p: p.name)
def test_no_term_is_written_in_a_template__issue_10(path: Path) -> None:
    found = template_terms(path.read_text("utf-8"))
    assert not found, f"{path.name}: term words written in the template (use term(kind, code)): {found}"


CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]")
FULL_WIDTH = re.compile(r"[\u3000-\u303f\uff00-\uffef]")
GLUED_PAREN = re.compile(r"[A-Za-z0-9]\((?!s\))")
# Punctuation written right after an expression is the same in both languages: "window(2026-…".
GLUED_AFTER_EXPRESSION = re.compile(r"(?:\}\}|%\})[(,;:]")


@pytest.mark.parametrize("path", sorted(TEMPLATES.glob("*.html")), ids=lambda p: p.name)
def test_english_prose_of_a_template_is_english_with_its_spaces__issue_10(path: Path) -> None:
    source = path.read_text("utf-8")
    for m in T_PAIR.finditer(source):
        en = m.group(2)
        assert not CJK.search(en) and not FULL_WIDTH.search(en), f"{path.name}: {en!r}"
        assert not GLUED_PAREN.search(en), f"{path.name}: no space before '(' in {en!r}"
    glued = [source[max(0, m.start() - 40) : m.end()] for m in GLUED_AFTER_EXPRESSION.finditer(source)]
    assert not glued, f"{path.name}: punctuation glued to an expression, put it in the t() pair: {glued}"
