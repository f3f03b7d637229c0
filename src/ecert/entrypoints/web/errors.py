"""The one place that maps error codes to HTTP statuses. API errors are
``{"error": {"code", "message", "rule"}}`` with the contract's codes; pages get an error page: a
headline and what to do in words, the error's own sentence when it is meant for the reader, and the
code and rule only in small print, for support."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ecert.domain.errors import BadInput, EcertError

STATUS: dict[str, int] = {
    "bad_input": 400,
    "unauthenticated": 401,
    "second_factor_required": 401,
    "second_factor_invalid": 401,
    "second_factor_reused": 401,
    "forbidden": 403,
    "csrf_failed": 403,
    "cross_site_refused": 403,
    "platform_signin_failed": 400,
    "platform_no_registration": 403,
    "platform_unavailable": 503,
    "not_found": 404,
    "payload_too_large": 413,
    "rate_limited": 429,
    "database_error": 503,
    "keys_missing": 503,
}
# The database went away (restarted, unreachable) or every connection is busy: ``database_error``, 503.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (OperationalError, InterfaceError, PoolTimeout)
RULE_REFUSAL_STATUS = 409  # a rule of the notice refused it: the request conflicts with the registry's state

# Codes whose message is for operators (file paths, database and configuration details): a page
# says only that the service has a problem.
SERVER_SIDE = frozenset({"database_error", "keys_missing", "bad_keys", "bad_policy", "bad_setting"})

# Error pages: (headline, what to do) per HTTP status, zh-CN first.
_AGAIN_LATER = (
    "请稍后再试;如问题持续,请联系技术支持并提供下方的参考码。",
    "Please try again later; if it persists, contact support with the reference below.",
)
PAGE_WORDS: dict[int, tuple[tuple[str, str], tuple[str, str]]] = {
    400: (
        ("提交的内容有误", "Something in the request is not right"),
        ("请检查后重试。", "Please check it and try again."),
    ),
    403: (
        ("没有访问权限", "You do not have access to this"),
        (
            "请使用有权限的账号登录;如需开通权限,请联系管理员。",
            "Sign in with an account that has access, or ask an administrator.",
        ),
    ),
    404: (
        ("找不到您要的内容", "We could not find what you asked for"),
        (
            "请检查链接是否完整。验证证书请重新扫描证书上的二维码,或上传证书 PDF。",
            "Check that the link is complete. To verify a certificate, scan its QR code again or upload its PDF.",
        ),
    ),
    405: (
        ("无法以这种方式打开此页面", "This page cannot be opened this way"),
        ("请从首页重新进入。", "Please start again from the home page."),
    ),
    409: (
        ("无法办理", "This cannot be done"),
        (
            "原因如上。如有疑问,请联系注册管理机关。",
            "The reason is given above. For questions, contact the registration authority.",
        ),
    ),
    413: (
        ("上传的内容过大", "What was sent is too large"),
        ("请检查是否选错了文件。", "Check that you chose the right file."),
    ),
    429: (("请求过于频繁", "Too many requests"), ("请稍等片刻后再试。", "Please wait a moment and try again.")),
    503: (("服务暂时不可用", "The service is temporarily unavailable"), _AGAIN_LATER),
}
DEFAULT_WORDS = (("无法完成您的请求", "Your request could not be completed"), _AGAIN_LATER)


SHOWN_PROBLEMS = 100  # problems a response lists (JSON or page); details_truncated counts the rest


def shown(err: EcertError) -> EcertError:
    """``err`` as a response shows it: a bad input's first :data:`SHOWN_PROBLEMS` problems and the count
    of all (10,000 problems of an import made a 629 KB answer)."""
    if isinstance(err, BadInput) and len(err.problems) > SHOWN_PROBLEMS:
        return BadInput(err.problems[:SHOWN_PROBLEMS], total=err.total)
    return err


def http_status(err: EcertError) -> int:
    return STATUS.get(err.code, RULE_REFUSAL_STATUS)


def page_error(status: int, lang: str, error: dict[str, Any]) -> dict[str, Any]:
    """What error.html shows for ``error`` (an ``as_dict()["error"]`` body) answered with ``status``."""
    (head_zh, head_en), (advice_zh, advice_en) = PAGE_WORDS.get(status, DEFAULT_WORDS)
    en = lang == "en"
    own = status < 500 and error.get("code") not in SERVER_SIDE
    return {
        "headline": head_en if en else head_zh,
        "message": error.get("message") if own else None,
        "details": [d.get("message", "") for d in error.get("details", [])] if own else [],
        "advice": advice_en if en else advice_zh,
        "code": error.get("code"),
        "rule": error.get("rule"),
    }


def form_error(request: Any, exc: EcertError) -> dict[str, Any]:
    """What a form page shows above itself when its post was refused: the error, and for bad input
    each problem with its row and column (admin_problems.html)."""
    from ecert.domain.errors import BadInput
    from ecert.entrypoints.web.i18n import request_lang

    lang = request_lang(request)
    exc = shown(exc)
    probs = exc.problems if isinstance(exc, BadInput) else []
    return {
        "error": {"code": exc.code, "message": exc.message(lang), "rule": exc.rule},
        "problems": [{"row": p.row, "column": p.column, "message": p.message(lang)} for p in probs],
        "problems_truncated": exc.total - len(probs) if isinstance(exc, BadInput) else 0,
    }
