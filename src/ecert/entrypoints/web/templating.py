"""The Jinja environment and the two ways a page is rendered: :func:`render` for a request (the
signed-in user, the CSRF token, the language cookie) and :func:`render_anonymous` for a visitor with
no session (the public QR page's hot path)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream

from ecert.entrypoints.web.deps import ctx, current_user, session_of
from ecert.entrypoints.web.i18n import TERMS, request_lang, translator

HERE = Path(__file__).parent

templates = Jinja2Templates(directory=str(HERE / "templates"))
# Package data: the templates do not change under a running server, so no stat() of every template
# (and of base.html it extends) on every render.
templates.env.auto_reload = False
TRANSLATORS = {lang: translator(lang) for lang in ("zh", "en")}


class _Localize(Extension):
    """``t('中文', 'English')`` with two literal arguments becomes the literal of one language when the
    template is compiled (a call costs more than the text it returns); other calls stay calls."""

    index = 0

    def filter_stream(self, stream: TokenStream) -> Iterable[Token]:
        tokens = list(stream)
        out: list[Token] = []
        i = 0
        while i < len(tokens):
            tok, window = tokens[i], tokens[i + 1 : i + 6]
            if (
                tok.type == "name"
                and tok.value == "t"
                and [w.type for w in window] == ["lparen", "string", "comma", "string", "rparen"]
                and not (out and out[-1].type == "dot")
            ):
                out.append(Token(tok.lineno, "string", window[1 + 2 * self.index].value))
                i += 6
            else:
                out.append(tok)
                i += 1
        return out


# One template environment per language, for :func:`render_anonymous` (same loader and settings).
LOCALIZED = {
    lang: templates.env.overlay(extensions=[type(f"Localize_{lang}", (_Localize,), {"index": i})])
    for i, lang in enumerate(("zh", "en"))
}


def render_anonymous(lang: str, name: str, *, demo: bool, **context: Any) -> str:
    """The page for a visitor with no session cookie: what :func:`render` gives when no one is
    signed in, without its request bookkeeping (the public QR page's hot path). ``demo``: the
    service seals with a DEMO key (``App.demo_seal``), and every page says so."""
    return (
        LOCALIZED[lang]
        .get_template(name)
        .render(lang=lang, t=TRANSLATORS[lang], user=None, csrf="", term=TERMS[lang], demo=demo, **context)
    )


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = request_lang(request)
    user = context.pop("user", None)
    if user is None and "user" not in context:
        try:
            user = current_user(request)
        except Exception:  # a broken session never breaks a page
            user = None
    session = session_of(request) if user is not None else None
    response = templates.TemplateResponse(
        request,
        name,
        {
            "lang": lang,
            "t": translator(lang),
            "term": TERMS["en" if lang == "en" else "zh"],
            "user": user,
            "csrf": session.csrf_token if session else "",
            "demo": ctx(request).core.demo_seal,  # the DEMO banner (base.html)
            **context,
        },
        status_code=status_code,
    )
    if request.query_params.get("lang") in ("zh", "en"):
        response.set_cookie("lang", request_lang(request), samesite="lax", httponly=True, max_age=365 * 86400)
    return response
