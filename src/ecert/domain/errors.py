"""One root error with a stable code.

Tree::

    EcertError(code, rule)          a stable ``code`` (docs/cli.md) + a message in zh-CN and English
    ├── RuleRefusal                 a rule refused the request (CLI exit 1)
    ├── NotFound                    no such registration / application (CLI exit 1)
    ├── BadInput(problems)          malformed input; ``problems`` name row, column and reason (CLI exit 2)
    └── BadSetting(variable, value) an ``ECERT_*`` environment variable does not parse (config.py)

Messages are Chinese first; ``message("en")`` gives English. Verification code never raises these
for a bad document: it returns a result value instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ecert.domain.messages import CATALOG, render


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input: where (row as a spreadsheet shows it, column), why, and for
    the kinds that have one, a stable ``code`` (docs/cli.md "Error codes")."""

    message_zh: str
    message_en: str
    row: int | None = None
    column: str | None = None
    code: str | None = None

    def message(self, lang: str = "zh") -> str:
        return self.message_en if lang == "en" else self.message_zh

    def as_dict(self, lang: str = "zh") -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.row is not None:
            out["row"] = self.row
        if self.column is not None:
            out["column"] = self.column
        if self.code is not None:
            out["code"] = self.code
        out["message"] = self.message(lang)
        return out


class EcertError(Exception):
    """Root of every error ecert raises on purpose. ``code`` is stable (docs/cli.md)."""

    exit_code = 1

    def __init__(self, code: str, *, rule: str | None = None, params: Mapping[str, Any] | None = None) -> None:
        self.code = code
        self.rule = rule
        self.params: dict[str, Any] = dict(params or {})
        super().__init__(self.message("en"))

    def message(self, lang: str = "zh") -> str:
        return render(self.code, lang, self.params)

    def as_dict(self, lang: str = "zh") -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message(lang), "rule": self.rule}}


class RuleRefusal(EcertError):
    """A rule of the notice refused the request (R-USE-4, R-REN-1 …)."""


class NotFound(EcertError):
    """``what`` is a ``thing.<what>`` term of the catalogue (``registration_no``, ``application`` …)."""

    def __init__(self, what: str, key: str) -> None:
        super().__init__("not_found", params={"what": what, "key": key})


class BadInput(EcertError):
    """Malformed input. Carries every problem found, not only the first."""

    exit_code = 2

    def __init__(self, problems: Iterable[Problem], *, total: int | None = None) -> None:
        self.problems = list(problems)
        self.total = total if total is not None else len(self.problems)
        super().__init__("bad_input", params={"count": self.total})

    def as_dict(self, lang: str = "zh") -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.message(lang),
            "details": [p.as_dict(lang) for p in self.problems],
        }
        if self.total > len(self.problems):
            body["details_truncated"] = self.total - len(self.problems)
        return {"error": body}


class BadSetting(EcertError):
    """An environment variable's value does not parse (config.py reads them all; docs/configuration.md)."""

    def __init__(self, variable: str, value: str) -> None:
        self.variable = variable
        self.value = value
        super().__init__("bad_setting", params={"variable": variable, "value": value})


def problem(zh: str, en: str, *, row: int | None = None, column: str | None = None) -> Problem:
    return Problem(message_zh=zh, message_en=en, row=row, column=column)


def coded_problem(code: str, *, row: int | None = None, column: str | None = None, **params: Any) -> Problem:
    """A problem whose sentence is the catalogued one for ``code`` (domain/messages.py), in both languages."""
    if code not in CATALOG:
        raise KeyError(f"no message for problem code {code!r}")
    values = {"row": row, "column": column, **params}
    return Problem(render(code, "zh", values), render(code, "en", values), row=row, column=column, code=code)
