"""Outgoing e-mail for renewal reminders: an SMTP mailer and an in-memory fake for tests.

Exceptions::

    MailError
    ├── MailDeliveryError   the message was not accepted (connection, TLS, login, refusal, timeout);
    │                       the caller records it and may retry later
    └── MailConfigError     an ECERT_SMTP_* variable is missing or malformed (names the variable)

A message counts as delivered once the SMTP server has accepted it (``send`` returned); what the
server does with it afterwards is the server's business.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from types import TracebackType
from typing import Self

DEFAULT_PORT = 25
DEFAULT_SENDER = "noreply@ecert.example.cn"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


class MailError(Exception):
    """Root of the mail adapter's errors."""


class MailDeliveryError(MailError):
    """The server did not accept the message. ``str()`` says what happened, for ``last_error``."""


class MailConfigError(MailError):
    """A mail setting is missing or malformed. ``variable`` names the environment variable."""

    def __init__(self, variable: str, problem: str, value: str | None = None) -> None:
        self.variable = variable
        self.problem = problem  # "missing" | "invalid"
        self.value = value
        super().__init__(f"{variable} is {problem}" + (f": {value!r}" if value is not None else ""))


def _domain_of(sender: str) -> str:
    addr = sender.rsplit("<", 1)[-1].rstrip(">").strip()
    return addr.rsplit("@", 1)[-1] if "@" in addr else "ecert.invalid"


def build_message(sender: str, to: str, subject: str, body: str, *, idempotency_key: str | None) -> EmailMessage:
    """A UTF-8 text message. Non-ASCII headers are RFC 2047 encoded and the body is base64, so it
    passes any SMTP server, 8BITMIME or not.

    ``idempotency_key`` becomes the Message-ID's local part: a copy re-sent after a crash carries the
    same Message-ID, which lets receiving systems recognise it as a duplicate.
    """
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=True)
    domain = _domain_of(sender)
    msg["Message-ID"] = f"<{idempotency_key}@{domain}>" if idempotency_key else make_msgid(domain=domain)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    msg.set_content(body, charset="utf-8", cte="base64")
    return msg


class SmtpMailer:
    """Sends through one SMTP server. The connection is opened on first use and reused (checked with
    NOOP before each message); ``close()`` or a ``with`` block ends it.

    ``send`` returns only when the server accepted the message for the recipient, and raises
    :class:`MailDeliveryError` otherwise — never a raw ``smtplib``/``OSError``.
    """

    def __init__(
        self,
        host: str,
        port: int = DEFAULT_PORT,
        sender: str = DEFAULT_SENDER,
        *,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.starttls = starttls
        self.username = username
        self.password = password
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SmtpMailer:
        """``ECERT_SMTP_HOST`` (required), ``ECERT_SMTP_PORT`` (25), ``ECERT_SMTP_FROM``
        (noreply@ecert.example.cn), ``ECERT_SMTP_STARTTLS`` (1/true/yes/on), ``ECERT_SMTP_USER``,
        ``ECERT_SMTP_PASSWORD``. Raises :class:`MailConfigError` naming the variable at fault."""
        host = env.get("ECERT_SMTP_HOST", "").strip()
        if not host:
            raise MailConfigError("ECERT_SMTP_HOST", "missing")
        port_raw = env.get("ECERT_SMTP_PORT", "").strip()
        port = DEFAULT_PORT
        if port_raw:
            if not port_raw.isdecimal() or not 0 < int(port_raw) < 65536:  # "¹" passes isdigit, not int()
                raise MailConfigError("ECERT_SMTP_PORT", "invalid", port_raw)
            port = int(port_raw)
        tls_raw = env.get("ECERT_SMTP_STARTTLS", "").strip().lower()
        if tls_raw not in _TRUE | _FALSE:
            raise MailConfigError("ECERT_SMTP_STARTTLS", "invalid", tls_raw)
        sender = env.get("ECERT_SMTP_FROM", "").strip() or DEFAULT_SENDER
        if "@" not in sender:
            raise MailConfigError("ECERT_SMTP_FROM", "invalid", sender)
        user = env.get("ECERT_SMTP_USER") or None
        password = env.get("ECERT_SMTP_PASSWORD") or None
        if (user is None) != (password is None):
            missing = "ECERT_SMTP_PASSWORD" if password is None else "ECERT_SMTP_USER"
            raise MailConfigError(missing, "missing")
        return cls(host, port, sender, starttls=tls_raw in _TRUE, username=user, password=password)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            try:
                if self._smtp.noop()[0] == 250:
                    return self._smtp
            except (smtplib.SMTPException, OSError):
                pass
            self._smtp.close()
            self._smtp = None
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            smtp.ehlo_or_helo_if_needed()
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if self.username is not None and self.password is not None:
                smtp.login(self.username, self.password)
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        return smtp

    def send(self, to: str, subject: str, body: str, *, idempotency_key: str | None = None) -> None:
        try:
            msg = build_message(self.sender, to, subject, body, idempotency_key=idempotency_key)
        except (ValueError, TypeError) as exc:  # e.g. a header with a line break in it
            raise MailDeliveryError(f"cannot build a message for {to!r}: {exc}") from exc
        try:
            refused = self._connection().send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise MailDeliveryError(
                f"recipient refused by {self.host}:{self.port}: {_refusals(exc.recipients)}"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            self._drop()
            text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            raise MailDeliveryError(f"SMTP {self.host}:{self.port} answered {exc.smtp_code} {text}") from exc
        except (smtplib.SMTPException, OSError) as exc:  # refused connection, timeout, TLS, disconnect …
            self._drop()
            raise MailDeliveryError(f"SMTP {self.host}:{self.port}: {type(exc).__name__}: {exc}") from exc
        if refused:  # only with several recipients; we send to one
            raise MailDeliveryError(f"recipient refused by {self.host}:{self.port}: {_refusals(refused)}")

    def _drop(self) -> None:
        """Forget a connection in an unknown state; the next message opens a fresh one."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()


def _refusals(recipients: Mapping[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{addr}: {code} {msg.decode('utf-8', 'replace')}" for addr, (code, msg) in recipients.items())


@dataclass(frozen=True)
class SentMessage:
    to: str
    subject: str
    body: str
    idempotency_key: str | None = None


@dataclass
class MemoryMailer:
    """A fake that keeps what it was given. Addresses in ``refuse`` fail with MailDeliveryError."""

    sent: list[SentMessage] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    def send(self, to: str, subject: str, body: str, *, idempotency_key: str | None = None) -> None:
        if to in self.refuse:
            raise MailDeliveryError(f"recipient refused: {to}")
        self.sent.append(SentMessage(to, subject, body, idempotency_key))

    def close(self) -> None:
        pass
