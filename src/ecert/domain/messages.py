"""Messages for people, zh-CN first, English second, keyed by the stable error code (docs/cli.md
"Error codes"). Codes of ``bad_input`` details (the ``file_*``, ``out_*`` and ``import_*`` ones) live
here too: a detail's ``code`` is as stable as an error's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple


class Localized(NamedTuple):
    """A message parameter that reads differently in each language (a reason built from a sentence)."""

    zh: str
    en: str


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
    # Details of bad_input for a file named on the command line (adapters/files.py): each says what to do.
    "file_not_found": (
        "找不到文件 {path}:请检查路径和文件名",
        "File not found: {path}. Check the path and the file name",
    ),
    "file_is_directory": (
        "{path} 是文件夹,不是文件:请给出文件的路径",
        "{path} is a directory, not a file: give the path of a file",
    ),
    "file_not_readable": (
        "没有读取 {path} 的权限:请检查文件权限,或换一个有权限的用户运行",
        "No permission to read {path}: check the file's permissions or run as a user who may read it",
    ),
    "file_read_failed": (
        "无法读取文件 {path}({reason}):请检查该文件及其所在磁盘",
        "Cannot read {path} ({reason}): check the file and its disk",
    ),
    "out_dir_missing": (
        "无法写入 {path}:文件夹 {dir} 不存在,请先创建它或换一个路径",
        "Cannot write {path}: the directory {dir} does not exist; create it first or choose another path",
    ),
    "out_is_directory": (
        "{path} 是文件夹:请给出要写入的文件名,例如 {example}",
        "{path} is a directory: give the name of the file to write, e.g. {example}",
    ),
    "out_not_a_directory": (
        "{path} 是文件,不是文件夹:请给出一个文件夹,或换一个路径",
        "{path} is a file, not a directory: give a directory or choose another path",
    ),
    "out_not_writable": (
        "没有写入 {path} 的权限:请换一个可写的位置,或检查文件夹权限",
        "No permission to write {path}: choose a writable location or check the directory's permissions",
    ),
    "out_write_failed": (
        "无法写入 {path}({reason}):请检查磁盘空间和路径",
        "Cannot write {path} ({reason}): check the disk space and the path",
    ),
    # Details of bad_input for a registry file that is not a CSV or XLSX one (adapters/importing/readers.py).
    "import_format_unsupported": (
        "{name} 不是 CSV 或 XLSX 文件(而是{kind_zh}):请把注册名册导出为 CSV(UTF-8 或 GB18030 编码)或 XLSX 后再导入",
        "{name} is not a CSV or XLSX file (it is {kind_en}): export the registry sheet as CSV (UTF-8 or GB18030) "
        "or XLSX and import that",
    ),
    "import_xlsx_damaged": (
        "{name} 看起来是 XLSX 工作簿,但无法打开(可能已损坏或未完整保存):"
        "请在 Excel 中重新另存为 XLSX 或导出为 CSV 后再导入",
        "{name} looks like an XLSX workbook but cannot be opened (damaged or not completely saved): save it again "
        "as XLSX, or export it as CSV, and import that",
    ),
    "text_encoding_unsupported": (
        "{name} 第 {row} 行既不是 UTF-8 也不是 GB18030 编码的文字:请将文件另存为 UTF-8 编码"
        "(Excel:“CSV UTF-8(逗号分隔)”)后重试",
        "Row {row} of {name} is neither UTF-8 nor GB18030 text: save the file as UTF-8 "
        '(Excel: "CSV UTF-8 (Comma delimited)") and try again',
    ),
}


def render(code: str, lang: str, params: Mapping[str, Any]) -> str:
    zh, en = CATALOG.get(code, (code, code))
    template = en if lang == "en" else zh
    values = {k: (v.en if lang == "en" else v.zh) if isinstance(v, Localized) else v for k, v in params.items()}
    try:
        return template.format(**values)
    except (KeyError, IndexError):
        # A missing parameter must never turn an error report into a crash.
        return template
