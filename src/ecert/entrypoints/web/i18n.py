"""Language of a request: ``?lang=en`` (remembered in a cookie), else the cookie, else zh-CN.

Templates get two helpers: ``t(zh, en)`` for the page's own prose, and ``term(kind, code)`` for a
stored value shown as a word (``term('status.registration', h.status)``), which comes from the one
catalogue, domain/messages.py, so a state has the same name on every page.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from ecert.domain import messages


def request_lang(request: Request) -> str:
    q = request.query_params.get("lang")
    if q in ("zh", "en"):
        return q
    c = request.cookies.get("lang")
    return c if c in ("zh", "en") else "zh"


def translator(lang: str):  # type: ignore[no-untyped-def]
    def t(zh: str, en: str) -> str:
        return en if lang == "en" else zh

    return t


def term_namer(lang: str) -> Callable[[str, str | None], str]:
    """``term(kind, code)`` in ``lang``: the catalogue's word for a stored code."""

    def term(kind: str, code: str | None) -> str:
        return messages.term(kind, code, lang)

    return term


TERMS = {lang: term_namer(lang) for lang in ("zh", "en")}
