"""Language of a request: ``?lang=en`` (remembered in a cookie), else the cookie, else zh-CN."""

from __future__ import annotations

from fastapi import Request

STATUS_WORDS: dict[str, tuple[str, str]] = {
    "valid": ("有效", "Valid"),
    "expired": ("已过使用期", "Past its usage window"),
    "not_yet_valid": ("尚未生效", "Not yet valid"),
    "superseded": ("已被更新", "Superseded"),
    "revoked": ("已撤销", "Revoked"),
    "tampered": ("无法验证:已被篡改", "Cannot verify: tampered"),
    "untrusted": ("无法验证:签章不受信任", "Cannot verify: untrusted seal"),
    "indeterminate": ("无法验证", "Cannot verify"),
}


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
