"""Messages for people, zh-CN first, English second, keyed by the stable error code (contract.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# code -> (zh, en); str.format placeholders filled from the error's params.
CATALOG: dict[str, tuple[str, str]] = {
    "not_in_rollout": (
        "该注册所在地区({province})于 {today} 尚未纳入电子证书启用范围",
        "Region {province} is not covered by an active e-certificate rollout batch on {today}",
    ),
    "registration_inactive": (
        "注册状态为“{status}”,不能办理此业务",
        "The registration is {status}; this is not possible",
    ),
    "age_limit": (
        "持证人已于 {age65_date} 年满65周岁",
        "The holder reached 65 on {age65_date}",
    ),
    "no_valid_specialty": ("没有处于有效期内的注册专业", "No specialty is currently valid"),
    "signature_missing": ("尚未登记持证人的签名图像", "No signature image is on file for the holder"),
    "confirmation_required": ("请先确认电子证书的使用有效期", "The usage window must be confirmed first"),
    "outside_renewal_window": (
        "注册专业“{specialty}”有效期至 {valid_until},延续注册申请须在 {opens} 至 {valid_until} 之间提出",
        "Specialty {specialty} is valid until {valid_until}; renewal may be applied for from {opens} to {valid_until}",
    ),
    "commitment_required": (
        "申请延续注册须对本人完成继续教育情况作出承诺",
        "A renewal application needs the holder's commitment to the continuing-education requirement",
    ),
    "ce_requirement_not_met": (
        "继续教育学时 {hours} 未达到要求的 {required} 学时",
        "Continuing education of {hours} hours is below the required {required}",
    ),
    "specialty_lapsed": ("注册专业“{specialty}”已失效", "Specialty {specialty} has lapsed"),
    "specialty_not_registered": (
        "该注册没有注册专业“{specialty}”",
        "The registration has no specialty {specialty}",
    ),
    "application_pending": (
        "注册专业“{specialty}”已有待审核的延续注册申请",
        "Specialty {specialty} already has a pending renewal application",
    ),
    "already_decided": ("该申请已作出决定", "The application has already been decided"),
    "paper_not_reissued": (
        "试点地区不再补发或更换纸质注册证书,以电子证书为准",
        "Paper certificates are no longer reissued or replaced in rollout regions; the e-certificate prevails",
    ),
    "unsupported_character": (
        "姓名或企业名称含有证书字体无法显示的字符 {chars},不能生成证书",
        "The name or employer contains characters no certificate font covers: {chars}",
    ),
    "keys_missing": (
        "缺少{what}:{path}(请先运行 ecert init)",
        "Missing {what}: {path} (run ecert init first)",
    ),
    "bad_keys": ("密钥配置有误:{reason}", "Bad key configuration: {reason}"),
    "unauthenticated": ("请先登录(用户名或密码不正确)", "Please sign in (wrong user name or password)"),
    "csrf_failed": ("表单已过期,请刷新页面后重试", "The form expired; reload the page and try again"),
    "rate_limited": ("请求过于频繁,请稍后再试", "Too many requests; try again later"),
    "not_found": ("未找到{what}:{key}", "No {what} found: {key}"),
    "forbidden": ("无权执行此操作", "You are not allowed to do this"),
    "bad_input": ("输入有误,共 {count} 处问题", "Bad input: {count} problem(s)"),
    "database_error": ("数据库错误:{reason}", "Database error: {reason}"),
    "bad_policy": ("政策配置有误:{reason}", "Bad policy configuration: {reason}"),
}


def render(code: str, lang: str, params: Mapping[str, Any]) -> str:
    zh, en = CATALOG.get(code, (code, code))
    template = en if lang == "en" else zh
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        # A missing parameter must never turn an error report into a crash.
        return template
