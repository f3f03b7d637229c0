"""The one message catalogue: every word ecert shows people, zh-CN first, English second.

Keys are stable codes. An error message is keyed by its error code (docs/cli.md "Error codes"; the codes of
``bad_input`` details — ``file_*``, ``out_*``, ``import_*`` — are as stable), a term by
``<kind>.<code>`` where ``code`` is the value the JSON and the database keep (``status.registration.active``,
``gender.女``, ``reason.superseded``). A term names one concept in one word per language, the same on
every page, in the CLI and in messages: the registration is ``正常`` / ``Active``, never ``有效`` (that is
a certificate or a specialty), on the holder's page, the console and the QR page alike.

A message template may embed a term with the format spec ``@kind``: ``{status:@status.registration}``
shows the param ``status`` (a code) as the term ``status.registration.<code>``.

Why our own catalogue and not gettext/Babel: the entries are keyed by the stable codes the contract
already fixes (gettext keys by the source sentence, so a reworded zh text breaks every translation
silently), there are exactly two languages, nothing to compile or extract, and a plain test checks
every entry (tests/unit/domain/test_messages.py). Page prose stays beside its markup as ``t(zh, en)``
pairs (web/i18n.py); terms never do (tests/unit/test_vocabulary.py).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any, NamedTuple


class Localized(NamedTuple):
    """A message parameter that reads differently in each language (a reason built from a sentence)."""

    zh: str
    en: str


# ------------------------------------------------------------------------------------------ errors
# code -> (zh, en); str.format placeholders filled from the error's params.
ERRORS: dict[str, tuple[str, str]] = {
    "not_in_rollout": (
        "该注册所在地区({province})于 {today} 尚未纳入电子证书启用范围",
        "Region {province} is not covered by an active e-certificate rollout batch on {today}",
    ),
    "registration_inactive": (
        "注册状态为“{status:@status.registration}”,不能办理此业务",
        "The registration status is “{status:@status.registration}”; this is not possible",
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
        "缺少{what:@thing}:{path}(请先运行 ecert init)",
        "Missing {what:@thing}: {path} (run ecert init first)",
    ),
    "bad_keys": ("密钥配置有误:{reason}", "Bad key configuration: {reason}"),
    "ofd_unavailable": (
        "未配置 SM2 电子印章,无法签发 OFD 版证书(请设置 ECERT_SM2_SEAL_KEY、ECERT_SM2_SEAL_CERT、ECERT_SM2_SEAL)",
        "No SM2 electronic seal is configured, so no OFD certificate can be issued "
        "(set ECERT_SM2_SEAL_KEY, ECERT_SM2_SEAL_CERT, ECERT_SM2_SEAL)",
    ),
    "unauthenticated": ("请先登录(用户名或密码不正确)", "Please sign in (wrong user name or password)"),
    "csrf_failed": ("表单已过期,请刷新页面后重试", "The form expired; reload the page and try again"),
    "cross_site_refused": (
        "拒绝来自其他网站的登录请求,请在本站的登录页登录",
        "A sign-in sent from another site is refused; sign in on this site's sign-in page",
    ),
    "platform_signin_failed": (
        "政务服务平台登录未完成:{reason}。请重新登录",
        "The government service platform sign-in did not complete: {reason}. Please sign in again",
    ),
    "platform_no_registration": (
        "您的政务服务平台账号所登记的身份证号没有对应的有效一级建造师注册,因此没有可查看的电子证书",
        "No active registration of a first-class constructor matches the ID number of your government "
        "service platform account, so there is no certificate to show you",
    ),
    "platform_unavailable": (
        "暂时无法连接政务服务平台,请稍后再试或使用账号密码登录",
        "The government service platform cannot be reached; try again later or sign in with a password",
    ),
    "rate_limited": ("请求过于频繁,请稍后再试", "Too many requests; try again later"),
    "second_factor_required": (
        "审核和管理页面需要第二重验证:请输入身份验证器中的动态验证码",
        "Staff pages need the second factor: enter the code from your authenticator app",
    ),
    "second_factor_invalid": (
        "动态验证码或恢复码不正确",
        "The authenticator code or recovery code is not right",
    ),
    "second_factor_reused": (
        "该动态验证码已使用过,请等待身份验证器显示下一个验证码",
        "This code was already used; wait for the next code in your authenticator app",
    ),
    "not_found": ("未找到{what:@thing}:{key}", "No {what:@thing} found: {key}"),
    "forbidden": ("无权执行此操作", "You are not allowed to do this"),
    "payload_too_large": ("提交的内容超过 {limit},未予读取", "The request is larger than {limit} and was not read"),
    # attestations (services/attestation.py): refusals, nothing signed
    "date_in_future": (
        "无法证明 {date} 的状态:该日期晚于今天({today})",
        "Cannot attest {date}: the date is after today ({today})",
    ),
    "date_before_rollout": (
        "无法证明 {date} 的状态:早于电子证照在该地区启用({since})",
        "Cannot attest {date}: before the e-certificate rollout in that province ({since})",
    ),
    "not_attestable": (
        "该文件或二维码不是可查证的本系统证书({status}):{reason}",
        "The file or QR code is not a certificate that can be attested ({status}): {reason}",
    ),
    "bad_input": ("输入有误,共 {count} 处问题", "Bad input: {count} problem(s)"),
    "database_error": ("数据库错误:{reason}", "Database error: {reason}"),
    "bad_policy": ("政策配置有误:{reason}", "Bad policy configuration: {reason}"),
    "bad_setting": (
        "环境变量 {variable} 的值无效:“{value}”(见 docs/configuration.md)",
        "Environment variable {variable} has an invalid value: “{value}” (see docs/configuration.md)",
    ),
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
    "file_too_large": (
        "文件 {path} 超过 {limit}:请检查是否给错了文件",
        "{path} is larger than {limit}: check that this is the right file",
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
        "{name} 不是 CSV 或 XLSX 文件(而是{kind}):请把注册名册导出为 CSV(UTF-8 或 GB18030 编码)或 XLSX 后再导入",
        "{name} is not a CSV or XLSX file (it is {kind}): export the registry sheet as CSV (UTF-8 or GB18030) "
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
    # Details of bad_input for a roster (services/roster.py, issue 13 item 3): a refusal, nothing reported.
    "roster_date_future": (
        "日期 {date} 晚于今天({today}):只能查询今天或以前某日的情况",
        "The date {date} is after today ({today}): a roster can be checked for today or an earlier day only",
    ),
    "roster_date_before_rollout": (
        "日期 {date} 早于电子证书启用之日({first}):此前的情况登记库无法作答",
        "The date {date} is before the e-certificate rollout began ({first}): the registry cannot answer for it",
    ),
    "roster_date_malformed": ("日期应为 YYYY-MM-DD 格式,实际为“{date}”", "The date must be YYYY-MM-DD, got “{date}”"),
    "roster_too_large": (
        "名册有 {rows} 行,超过上限 {limit} 行:请拆分为多个不超过 {limit} 行的名册分别查询",
        "The roster has {rows} rows, more than the limit of {limit}: split it into rosters of at most {limit} "
        "rows and check each",
    ),
    "roster_empty": (
        "{name} 中没有任何注册编号或证书文件",
        "{name} holds no registration number and no certificate file",
    ),
    "roster_no_column": (
        "{name} 的表头中没有 registration_no(注册编号)列:第一行应为列名,例如 registration_no,specialty",
        "{name} has no registration_no column in its header: the first row names the columns, "
        "e.g. “registration_no, specialty”",
    ),
    "roster_zip_unreadable": (
        "{name} 不是可读取的 ZIP 压缩包({reason}):请重新打包证书文件(PDF 或 OFD)后再上传",
        "{name} is not a readable ZIP archive ({reason}): pack the certificate files (PDF or OFD) again "
        "and upload that",
    ),
    "roster_file_too_large": (
        "{name} 超过 {limit} MB:请拆分后分别查询",
        "{name} is larger than {limit} MB: split it and check each part",
    ),
}

# The ``kind`` of ``import_format_unsupported``: what a registry file given to ``import`` is when it is not
# CSV or XLSX (adapters/importing/readers.py ``sniff`` returns the key).
FILE_KINDS: dict[str, Localized] = {
    "pdf": Localized("PDF 文件", "a PDF file"),
    "ofd": Localized("OFD 文件", "an OFD file"),
    "xls": Localized(
        "Excel 97–2003 工作簿(.xls)或加密的工作簿",
        "an Excel 97–2003 workbook (.xls) or a password-protected workbook",
    ),
    "xlsb": Localized("Excel 二进制工作簿(.xlsb)", "an Excel binary workbook (.xlsb)"),
    "office": Localized("Word、PowerPoint 或其他 Office 文档", "a Word, PowerPoint or other Office document"),
    "zip": Localized("ZIP 压缩包", "a ZIP archive"),
    "image": Localized("图像文件", "an image"),
    "utf16": Localized("UTF-16 编码的文本(Excel 的“Unicode 文本”)", 'UTF-16 text (Excel\'s "Unicode Text")'),
    "binary": Localized("二进制文件", "a binary file"),
}

# ------------------------------------------------------------------------------------------ terms
# One concept, one word per language; docs/vocabulary.md is this table for people (a test keeps them equal).
TERMS: dict[str, tuple[str, str]] = {
    # The registration (注册) as the authority keeps it: registrations.status, ``holder show`` status.
    "status.registration.active": ("正常", "Active"),
    "status.registration.cancelled": ("已注销", "Cancelled"),
    "status.registration.revoked": ("已撤销", "Revoked"),
    "status.registration.suspended": ("已暂停", "Suspended"),
    # A specialty registration (注册专业) today: docs/cli.md ``specialty[].state``.
    "status.specialty.valid": ("有效", "Valid"),
    "status.specialty.renewable": ("有效(可申请延续注册)", "Valid (renewal open)"),
    "status.specialty.expired": ("已到期", "Expired"),
    "status.specialty.lapsed": ("已失效", "Lapsed"),
    "status.specialty.cancelled": ("已注销", "Cancelled"),
    # An issued e-certificate: the verdict of a verification (docs/cli.md ``verify.status``), and the
    # state of each earlier download on the holder's page (the same concept, the same words).
    "status.certificate.valid": ("有效", "Valid"),
    "status.certificate.expired": ("已过使用期", "Past its usage window"),
    "status.certificate.not_yet_valid": ("尚未生效", "Not yet valid"),
    "status.certificate.superseded": ("已被更新", "Superseded"),
    "status.certificate.revoked": ("已撤销", "Revoked"),
    "status.certificate.tampered": ("无法验证:已被篡改", "Cannot verify: tampered"),
    "status.certificate.untrusted": ("无法验证:签章不受信任", "Cannot verify: untrusted seal"),
    "status.certificate.indeterminate": ("无法验证", "Cannot verify"),
    # A renewal application (延续注册申请) and each of its specialties.
    "status.application.pending": ("待审核", "Pending"),
    "status.application.approved": ("已批准", "Approved"),
    "status.application.rejected": ("已驳回", "Rejected"),
    # A renewal reminder in the outbox.
    "status.reminder.unsent": ("未发送", "Not sent"),
    # Gender: the codes are the registry's own values (docs/cli.md import columns).
    "gender.男": ("男", "Male"),
    "gender.女": ("女", "Female"),
    # Account roles.
    "role.holder": ("持证人", "Holder"),
    "role.reviewer": ("审核人员", "Reviewer"),
    "role.admin": ("管理员", "Administrator"),
    "role.employer": ("用人单位账号", "Employer account"),
    # How a verification came in (verification_events.channel; the audit page's verification batches).
    "channel.qr": ("扫描二维码", "QR scan"),
    "channel.pdf": ("上传 PDF", "PDF upload"),
    "channel.api": ("接口", "API"),
    "channel.cli": ("命令行", "Command line"),
    # Yes / no, and the renewal commitment (R-REN-4).
    "answer.yes": ("是", "Yes"),
    "answer.no": ("否", "No"),
    "commitment.given": ("已承诺", "Committed"),
    "commitment.none": ("未承诺", "Not committed"),
    "signature.on_file": ("已登记", "On file"),
    "signature.missing": ("未登记", "Missing"),
    # What a ``not_found`` or ``keys_missing`` names.
    "thing.registration_no": ("注册编号", "registration number"),
    "thing.application": ("延续注册申请", "renewal application"),
    "thing.certificate": ("电子证书", "certificate"),
    "thing.user": ("用户", "user"),
    "thing.roster_run": ("名册核查", "roster report"),
    "thing.subscription": ("变更通知订阅", "subscription"),
    "thing.webhook_event": ("变更通知", "notification"),
    "thing.api_client": ("接口客户端", "API client"),
    "thing.audit_checkpoint": ("审计日志检查点", "audit log checkpoint"),
    "thing.audit_event": ("已排序的审计事件", "sequenced audit event"),
    "thing.employer": ("聘用企业(统一社会信用代码)", "employer (unified social credit code)"),
    "thing.signature_image": ("签名图像", "signature image"),
    "thing.seal_key": ("印章密钥", "seal key"),
    "thing.qr_key": ("二维码密钥", "QR key"),
    "thing.trust_root": ("信任根证书", "trust root"),
    # The checks of a verification (``checks`` of ``verify --json``), in their order.
    "check.signature": ("电子签章完好", "Seal intact"),
    "check.unmodified": ("签章后未被修改", "Not modified after sealing"),
    "check.trusted": ("签章受信任", "Seal trusted"),
    "check.qr_token": ("二维码签名有效", "QR code signature valid"),
    "check.bound": ("二维码与文档一致", "QR code belongs to the document"),
    "check.record": ("与签发记录一致", "Matches the issuance record"),
    "check.current": ("注册信息未变更", "Registry data unchanged"),
    "check.window": ("在使用有效期内", "Inside the usage window"),
    # The lines of a verdict page's list of checks (domain/verification.py CHECK_LINES): each line
    # stands for one or more of the checks above, worded for the channel the verifier used.
    "check_line.pdf.seal": ("电子签章有效", "The seal verifies"),
    "check_line.pdf.unchanged": ("签章后未被改动", "Unchanged since sealing"),
    "check_line.pdf.trusted": ("印章为受信任的住建部印章", "Sealed with the ministry's trusted seal"),
    "check_line.pdf.issued": ("由本登记库签发", "Issued by this registry"),
    "check_line.pdf.current": ("为最新证书(未变更、未撤销)", "Current (not superseded or revoked)"),
    "check_line.pdf.window": ("在使用有效期内", "Inside its usage window"),
    "check_line.qr.seal": ("二维码签名有效,未被改动", "The QR code's signature verifies (unchanged)"),
    "check_line.qr.issued": ("由本登记库签发", "Issued by this registry"),
    "check_line.qr.current": ("为最新证书(未变更、未撤销)", "Current (not superseded or revoked)"),
    "check_line.qr.window": ("在使用有效期内", "Inside its usage window"),
    # Why a verification came out as it did (``Reason.code``). The public part of a revocation or
    # cancellation is its legal basis and effective date only; the free-text reason stays in the
    # registry (it may contain personal details).
    "reason.not_pdf": ("文件不是可读取的 PDF 或 OFD 文档", "The file is not a readable PDF or OFD document"),
    "reason.package_malformed": (
        "OFD 文件包无法读取(不是完整的 OFD 文档)",
        "The OFD package cannot be read (not a complete OFD document)",
    ),
    "reason.package_too_large": (
        "OFD 文件包过大或解压后过大,未予读取",
        "The OFD package is too large, or too large once decompressed; it was not read",
    ),
    "reason.package_unsafe_path": (
        "OFD 文件包含有越出文件包的路径,未予读取",
        "The OFD package holds a path that escapes the package; it was not read",
    ),
    "reason.not_signed": ("文件没有电子签章", "The document carries no digital seal"),
    "reason.signature_broken": (
        "电子签章校验失败:签章后的内容被改动",
        "The seal does not verify: content changed after sealing",
    ),
    "reason.modified_after_signing": ("签章后文档被增补修改", "The document was modified after it was sealed"),
    "reason.content_after_seal": (
        "文件在盖章后被追加了内容;显示的是盖章时的版本",
        "The file has content added after sealing; what is shown is the sealed version",
    ),
    "reason.untrusted_signer": (
        "签章证书不是受信任的住建部印章证书",
        "The seal certificate does not chain to a trusted seal root",
    ),
    "reason.no_content": ("文档中没有证书数据", "The document has no certificate data"),
    "reason.qr_malformed": ("二维码内容不是本系统的验证码", "The QR text is not an ecert verification code"),
    "reason.qr_bad_signature": ("二维码签名校验失败(已被篡改)", "The QR code's signature does not verify (tampered)"),
    "reason.qr_unknown_key": ("二维码由未知密钥签发", "The QR code was signed with an unknown key"),
    "reason.qr_not_bound": ("二维码与文档内容不一致", "The QR code does not belong to this document"),
    "reason.no_record": ("登记库中没有此证书的签发记录", "The registry has no issuance record for this certificate"),
    "reason.record_mismatch": ("证书内容与签发记录不一致", "The certificate does not match its issuance record"),
    "reason.revoked": (
        "注册状态:{status:@status.registration}(依据:{basis};自 {effective} 起生效)",
        "Registration status: {status:@status.registration} (legal basis: {basis}; effective {effective})",
    ),
    "reason.revoked_no_basis": (
        "注册状态:{status:@status.registration}(自 {effective} 起生效)",
        "Registration status: {status:@status.registration} (effective {effective})",
    ),
    "reason.revoked_no_details": (
        "注册状态:{status:@status.registration}",
        "Registration status: {status:@status.registration}",
    ),
    "reason.superseded": (
        "证书信息已变更,此证书已被更新的证书取代;以登记库当前信息为准",
        "The registry data changed after issue: this certificate is superseded; the current data prevail",
    ),
    "reason.expired": ("已超过使用有效期(至 {until})", "Past its usage window (until {until})"),
    "reason.not_yet_valid": ("尚未到使用有效期(自 {since})", "Before its usage window (from {since})"),
    "reason.valid": ("证书有效", "The certificate is valid"),
    # offline verification (domain/status_list.py)
    "reason.revoked_listed": (
        "已签名的状态列表将此证书列为已撤销(撤销依据与日期须联网查询)",
        "The signed status list lists this certificate as revoked (the legal basis and date are online only)",
    ),
    "reason.status_list_stale": (
        "状态列表({issued_at} 签发)已超过更新期限 {next_update}:证书状态未知,请更新离线核验包",
        "The status list (issued {issued_at}) is past its next update {next_update}: status unknown; refresh the kit",
    ),
    "reason.status_list_missing": (
        "离线核验包中没有状态列表:证书状态未知",
        "The offline kit has no status list: status unknown",
    ),
    "reason.status_list_malformed": (
        "状态列表不完整或格式错误(可能被截断),不予采用:证书状态未知",
        "The status list is incomplete or malformed (truncated?) and was refused: status unknown",
    ),
    "reason.status_list_unknown_key": (
        "状态列表由未知密钥签名,不予采用:证书状态未知",
        "The status list is signed with an unknown key and was refused: status unknown",
    ),
    "reason.status_list_bad_signature": (
        "状态列表签名校验失败,不予采用:证书状态未知",
        "The status list's signature does not verify; it was refused: status unknown",
    ),
    "reason.offline_unchecked": (
        "离线核验:签章、二维码签名与使用有效期取自证书本身,状态取自 {issued_at} 签发的状态列表;"
        "未核对登记库的签发记录与当前信息",
        "Checked offline: seal, QR signature and usage window from the certificate itself, status from the "
        "list issued {issued_at}; the registry's issuance record and current data were not checked",
    ),
    # answers for a date (domain/history.py DateCode)
    "reason.date_in_future": ("日期 {date} 晚于今天({today}),不予证明", "{date} is after today ({today}): no answer"),
    "reason.date_before_rollout": (
        "日期 {date} 早于电子证照在该地区启用({since}),不予证明",
        "{date} is before the e-certificate rollout in that province ({since}): no answer",
    ),
    "reason.unknown_registration": ("登记库中没有此注册编号", "No such registration number in the registry"),
    "reason.valid_on_date": ("{date} 注册有效", "The registration was valid on {date}"),
    "reason.revoked_on_date": (
        "自 {effective} 起撤销(依据:{basis};决定于 {decided})",
        "Revoked effective {effective} (legal basis: {basis}; decided {decided})",
    ),
    "reason.cancelled_on_date": (
        "自 {effective} 起注销(依据:{basis};决定于 {decided})",
        "Cancelled effective {effective} (legal basis: {basis}; decided {decided})",
    ),
    "reason.no_valid_specialty_on_date": ("{date} 没有有效的注册专业", "No registered specialty was valid on {date}"),
    "reason.certificate_valid_on_date": (
        "证书 {serial} 在 {date} 有效(使用有效期 {from} 至 {until})",
        "Certificate {serial} was valid on {date} (usage window {from} to {until})",
    ),
    "reason.certificate_not_issued_yet": (
        "证书 {serial} 在 {date} 尚未签发",
        "Certificate {serial} had not been issued yet on {date}",
    ),
    "reason.certificate_outside_window": (
        "{date} 不在证书 {serial} 的使用有效期内({from} 至 {until})",
        "{date} is outside certificate {serial}'s usage window ({from} to {until})",
    ),
    "reason.certificate_superseded_on_date": (
        "证书 {serial} 已于 {at} 被更新的证书取代",
        "Certificate {serial} had been superseded on {at}",
    ),
    "reason.certificate_unknown": ("没有证书 {serial} 的签发记录", "No issuance record for certificate {serial}"),
    "reason.ended_decided_after_date": (
        "撤销或注销决定于 {decided},晚于所问日期,但自 {effective} 起生效,故计入",
        "The revocation or cancellation was decided on {decided}, after the date asked, "
        "but is effective from {effective}, so it counts",
    ),
    "reason.ended_after_date": (
        "注册后来被撤销或注销(自 {effective} 起生效),不影响所问日期",
        "The registration was revoked or cancelled later (effective {effective}), after the date asked",
    ),
    "reason.superseded_after_date": (
        "证书 {serial} 于 {at} 被更新的证书取代(在所问日期之后)",
        "Certificate {serial} was superseded on {at}, after the date asked",
    ),
    "reason.no_certificate_on_date": (
        "{date} 没有有效的电子证书(注册有效)",
        "No e-certificate was valid on {date} (the registration was)",
    ),
    # A roster report's row (domain/roster.py RosterReason).
    "roster_reason.ok": (
        "在该日:受聘于本单位,注册及专业有效,证书有效",
        "On that day: employed by you, registered, specialty valid, certificate valid",
    ),
    "roster_reason.formula_cell": (
        "单元格是公式(如 =HYPERLINK),未查询;报告中已加单引号使其失效",
        "The cell is a formula (such as =HYPERLINK): not looked up, and shown with a leading apostrophe "
        "so it never runs",
    ),
    "roster_reason.registration_no_malformed": ("不是有效的注册编号", "Not a valid registration number"),
    "roster_reason.not_found": ("登记库中没有此注册编号", "No registration with this number"),
    "roster_reason.date_before_rollout": (
        "该日早于所在省份启用电子证书之日,登记库无法作答",
        "That day is before the e-certificate rollout in its province: the registry cannot answer for it",
    ),
    "roster_reason.not_employed_by_you": ("非本单位人员", "Not employed by you"),
    "roster_reason.registration_inactive": ("该日注册状态不是“正常”", "The registration was not active on that day"),
    "roster_reason.specialty_unknown": ("不是一级建造师的注册专业", "Not a specialty of the first-class constructor"),
    "roster_reason.specialty_not_registered": ("未注册该专业", "Not registered in this specialty"),
    "roster_reason.specialty_not_valid_on_date": (
        "该专业在该日不在有效期内",
        "The specialty was not valid on that day",
    ),
    "roster_reason.no_valid_specialty_on_date": ("该日没有有效的注册专业", "No specialty was valid on that day"),
    "roster_reason.no_valid_certificate": (
        "该日没有有效的电子证书(未下载,或已过使用期)",
        "No e-certificate was valid on that day (none downloaded, or past its usage window)",
    ),
    "roster_reason.certificate_not_valid": (
        "上传的证书文件验证未通过",
        "The uploaded certificate file did not verify as valid",
    ),
}

CATALOG: dict[str, tuple[str, str]] = {**ERRORS, **TERMS}
assert len(CATALOG) == len(ERRORS) + len(TERMS), "an error code and a term share a key"

# Per language, for lookups on hot paths (the QR page): key -> text.
_BY_LANG: dict[str, dict[str, str]] = {
    lang: {k: v[i] for k, v in CATALOG.items()} for i, lang in enumerate(("zh", "en"))
}


def _lang(lang: str) -> str:
    return "en" if lang == "en" else "zh"


def term(kind: str, code: str | None, lang: str) -> str:
    """The word for ``code`` of ``kind`` (``term("status.registration", "active", "en")`` → ``Active``);
    an unknown code is shown as it is, never an error."""
    value = "" if code is None else str(code)
    return _BY_LANG[_lang(lang)].get(f"{kind}.{value}", value)


def terms(kind: str, lang: str) -> dict[str, str]:
    """Every code of ``kind`` with its word in ``lang`` (for choices and tables)."""
    prefix = f"{kind}."
    return {k[len(prefix) :]: v for k, v in _BY_LANG[_lang(lang)].items() if k.startswith(prefix)}


class _Formatter(string.Formatter):
    """``str.format`` plus ``{param:@kind}``: the param is a code, shown as its term."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def format_field(self, value: Any, format_spec: str) -> Any:
        if format_spec.startswith("@"):
            return term(format_spec[1:], value, self.lang)
        return super().format_field(value, format_spec)


_FORMATTERS = {lang: _Formatter(lang) for lang in ("zh", "en")}


def text(key: str, lang: str, params: Mapping[str, Any] | None = None) -> str:
    """The catalogue entry ``key`` in ``lang`` with ``params`` filled in; an unknown key is shown as it is."""
    lang = _lang(lang)
    template = _BY_LANG[lang].get(key, key)
    if "{" not in template:
        return template
    values = {k: (v.en if lang == "en" else v.zh) if isinstance(v, Localized) else v for k, v in (params or {}).items()}
    try:
        if ":@" in template:
            return _FORMATTERS[lang].vformat(template, (), values)
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        # A missing parameter must never turn an error report into a crash.
        return template


def render(code: str, lang: str, params: Mapping[str, Any]) -> str:
    """An error's message (``EcertError.message``)."""
    return text(code, lang, params)
