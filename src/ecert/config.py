"""Settings from the environment and the command line (docs/cli.md "Global", docs/configuration.md).

The one module that reads ``ECERT_*`` environment variables: :func:`load_settings` reads them all,
on each call (never at import time), into one frozen :class:`Settings` of frozen groups. Every
variable is listed in :data:`VARIABLES` (name, type, default, meaning), from which
docs/configuration.md is written. A value that does not parse is :class:`~ecert.domain.errors.BadSetting`
(``bad_setting``, naming the variable); ``ECERT_TODAY`` stays ``bad_policy`` (docs/cli.md).
The composition root (bootstrap.py) builds the adapters from these settings.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ecert.adapters.files import input_problem
from ecert.domain.errors import BadSetting, EcertError
from ecert.domain.messages import Localized
from ecert.domain.policy import Policy, merge, parse_policy

DEFAULT_DB_PATH = Path("var") / "ecert.db"
DEFAULT_KEYS_DIR = Path("var") / "keys"
DEFAULT_BASE_URL = "https://ecert.example.cn"

Environ = Mapping[str, str]


@dataclass(frozen=True)
class Variable:
    """One ``ECERT_*`` environment variable, as docs/configuration.md lists it."""

    name: str
    type: str  # text, integer, number, path, paths (":"-separated), date, url, secret
    default: str  # as a person reads it; "" when unset means nothing
    meaning: str


VARIABLES: tuple[Variable, ...] = (
    # The application
    Variable(
        "ECERT_DATABASE_URL",
        "url",
        "sqlite:///var/ecert.db",
        "The database (`--db`); PostgreSQL: `postgresql+psycopg://user@host:5432/db`",
    ),
    Variable("ECERT_LANG", "text", "zh", "Language of messages (`--lang`): `zh` or `en`"),
    Variable("ECERT_POLICY_FILE", "path", "", "Policy override file, TOML, only the keys that change (`--policy`)"),
    Variable("ECERT_TODAY", "date", "", "Today's date, YYYY-MM-DD: drills and tests only (R-DATE-1)"),
    Variable("ECERT_ACTOR", "text", "cli:USER", "Who the CLI records as the actor when `--actor` is not given"),
    # Database pools
    Variable("ECERT_DB_POOL_SIZE", "integer", "16", "PostgreSQL connections kept open per process"),
    Variable("ECERT_DB_POOL_OVERFLOW", "integer", "16", "PostgreSQL connections opened beyond the pool at a peak"),
    Variable("ECERT_DB_READ_POOL_SIZE", "integer", "8", "Async PostgreSQL connections of the QR page's fast read"),
    # Keys (R-DOC-2, R-DOC-4)
    Variable(
        "ECERT_KEYS_DIR",
        "path",
        "var/keys",
        "QR token keys (retired ones in `qr-retired/`), `app-secret.key` (device cookies, TOTP secrets at rest;"
        " every process must share it) and, in a demo, the DEMO PKI",
    ),
    Variable("ECERT_SEAL_KEY", "path", "", "Seal private key, PEM (with `ECERT_SEAL_CERT`)"),
    Variable("ECERT_SEAL_CERT", "path", "", "Seal certificate, PEM (with `ECERT_SEAL_KEY`, or with a PKCS#11 key)"),
    Variable("ECERT_SEAL_CHAIN", "paths", "", "Intermediate certificates of the seal, PEM files"),
    Variable("ECERT_SEAL_KEY_PASSWORD", "secret", "", "Password of the PEM seal key"),
    Variable("ECERT_SEAL_PKCS12", "path", "", "Seal key and certificate as one PKCS#12 file"),
    Variable("ECERT_SEAL_PKCS12_PASSWORD", "secret", "", "Password of the PKCS#12 file"),
    Variable("ECERT_PKCS11_MODULE", "path", "", "PKCS#11 module of the token (HSM) holding the seal key"),
    Variable("ECERT_PKCS11_TOKEN", "text", "", "PKCS#11 token label"),
    Variable("ECERT_PKCS11_PIN", "secret", "", "PKCS#11 user PIN"),
    Variable("ECERT_PKCS11_KEY_LABEL", "text", "", "PKCS#11 label of the seal key"),
    Variable("ECERT_TRUST_ROOTS", "paths", "", "Seal roots the verifier trusts, PEM files"),
    # The national format's SM2 seal (R-DOC-6)
    Variable(
        "ECERT_SM2_SEAL_KEY", "path", "", "SM2 seal private key, PEM (with `ECERT_SM2_SEAL_CERT`, `ECERT_SM2_SEAL`)"
    ),
    Variable("ECERT_SM2_SEAL_CERT", "path", "", "SM2 seal certificate (SM2-with-SM3), PEM or DER"),
    Variable(
        "ECERT_SM2_SEAL",
        "path",
        "",
        "The electronic seal (GB/T 38540 `SESeal`, DER) its seal maker made for that certificate",
    ),
    Variable(
        "ECERT_SM2_TRUST_ROOTS",
        "paths",
        "",
        "SM2 roots the OFD verifier trusts (they vouch for seal makers and seal certificates), PEM files",
    ),
    Variable(
        "ECERT_TSA_URL",
        "url",
        "",
        "RFC 3161 time-stamp authority of the seal's time-stamps (`demo`: the DEMO TSA in-process, DEMO keys only)",
    ),
    Variable(
        "ECERT_SEAL_PROFILE",
        "text",
        "auto",
        "PAdES level of the PDF seal: `B-B`, `B-T`, `B-LT`, `B-LTA` (all but B-B need `ECERT_TSA_URL`); "
        "`auto`: B-T with a TSA, else B-B",
    ),
    Variable(
        "ECERT_SEAL_CRLS",
        "paths",
        "",
        "CRLs (DER or PEM) of the seal's and the TSA's CAs, embedded by B-LT/B-LTA seals and archival updates",
    ),
    Variable("ECERT_BASE_URL", "url", DEFAULT_BASE_URL, "The public verification site printed in the QR code"),
    # Verification log (R-ACC-1)
    Variable(
        "ECERT_VERIFY_LOG_BUFFER",
        "integer",
        "10000",
        "Verifications a web process keeps while the database cannot take them",
    ),
    Variable("ECERT_VERIFY_LOG_INTERVAL", "number", "1.0", "Seconds between the verification log's batches"),
    # Web
    Variable("ECERT_VERIFY_RATE", "number", "120", "Public verifications a minute per client address"),
    Variable("ECERT_REDIS_URL", "url", "", "Redis shared by every web process for the rate limit (else per process)"),
    Variable("ECERT_REDIS_PREFIX", "text", "ecert", "Prefix of the rate limit's Redis keys"),
    Variable(
        "ECERT_QR_TOKEN_CACHE",
        "integer",
        "16384",
        "Verified QR tokens remembered per web process; 0 turns the cache off",
    ),
    Variable("ECERT_IMPORT_MAX_MB", "integer", "200", "Largest registry file the authority may upload, in MB"),
    Variable("ECERT_LOG_LEVEL", "text", "info", "Level of the web's JSON log (debug, info, warning, error)"),
    Variable(
        "ECERT_TRUSTED_PROXIES",
        "text",
        "",
        "Comma-separated addresses or networks (CIDR) of the reverse proxies whose X-Forwarded-For/-Proto "
        "headers are believed; "
        "empty: none, the connecting address is the client (rate limits are per client)",
    ),
    Variable(
        "ECERT_METRICS_ALLOW",
        "text",
        "",
        "Comma-separated client addresses or networks (CIDR) that may read /metrics without a token; empty: none",
    ),
    Variable("ECERT_METRICS_TOKEN", "secret", "", "Bearer token that reads /metrics from anywhere; empty: no token"),
    Variable(
        "ECERT_STAFF_2FA",
        "text",
        "required",
        "Second factor (TOTP) of reviewers and admins: `required`, or `off` (password only; not for production)",
    ),
    # Roster reports (issue 13 item 3)
    Variable(
        "ECERT_ROSTER_MAX_ROWS", "integer", "20000", "Most rows one roster report answers; a longer roster is refused"
    ),
    Variable("ECERT_ROSTER_MAX_MB", "integer", "100", "Largest roster file (CSV, XLSX or zip of certificates), in MB"),
    Variable(
        "ECERT_ROSTER_JOB_ROWS",
        "integer",
        "200",
        "From this many rows the web runs a roster as a job with a progress page",
    ),
    # Subscriptions and signed notifications (issue 14)
    Variable(
        "ECERT_WEBHOOK_TIMEOUT", "number", "10", "Seconds a notification request may take to connect, and to each read"
    ),
    Variable(
        "ECERT_WEBHOOK_MAX_ATTEMPTS",
        "integer",
        "8",
        "Tries of one notification before it is dead (redelivery by the authority)",
    ),
    Variable(
        "ECERT_WEBHOOK_BACKOFF",
        "number",
        "30",
        "Seconds before the first retry of a notification; doubled at each retry",
    ),
    Variable(
        "ECERT_WEBHOOK_BACKOFF_MAX", "number", "21600", "Longest wait between two tries of a notification, in seconds"
    ),
    Variable(
        "ECERT_WEBHOOK_LEASE",
        "number",
        "120",
        "Seconds a worker holds the notifications it is sending; a killed worker's are sent again after",
    ),
    Variable("ECERT_WEBHOOK_CONCURRENCY", "integer", "8", "Notification requests one delivery job makes at once"),
    Variable(
        "ECERT_WEBHOOK_ALLOW_HTTP",
        "text",
        "off",
        "Accept `http://` notification URLs: tests and the demo only (1/true/yes/on)",
    ),
    Variable(
        "ECERT_WEBHOOK_ALLOW_PRIVATE",
        "text",
        "off",
        "Send notifications to private, loopback and link-local addresses: tests and the demo only (1/true/yes/on)",
    ),
    # Mail (renewal reminders)
    Variable("ECERT_SMTP_HOST", "text", "", "SMTP server for renewal reminders (needed to send)"),
    Variable("ECERT_SMTP_PORT", "integer", "25", "SMTP port"),
    Variable("ECERT_SMTP_FROM", "text", "noreply@ecert.example.cn", "Sender address of reminders"),
    Variable("ECERT_SMTP_STARTTLS", "text", "off", "STARTTLS before login: 1/true/yes/on or 0/false/no/off"),
    Variable("ECERT_SMTP_USER", "text", "", "SMTP login (with `ECERT_SMTP_PASSWORD`)"),
    Variable("ECERT_SMTP_PASSWORD", "secret", "", "SMTP password (with `ECERT_SMTP_USER`)"),
    # Holders' single sign-on with the government service platform (OpenID Connect, R-ACC-1)
    Variable(
        "ECERT_OIDC_ISSUER",
        "url",
        "",
        "The platform's OpenID issuer URL (https); set, the login page offers the platform sign-in",
    ),
    Variable("ECERT_OIDC_CLIENT_ID", "text", "", "This service's client id at the platform"),
    Variable("ECERT_OIDC_CLIENT_SECRET", "secret", "", "This service's client secret at the platform"),
    Variable("ECERT_OIDC_ID_NUMBER_CLAIM", "text", "id_number", "The claim carrying the holder's ID number"),
    Variable(
        "ECERT_OIDC_NAME_CLAIM",
        "text",
        "name",
        "The claim carrying the verified name; when the token has it, it must equal the registry's",
    ),
    Variable("ECERT_OIDC_SCOPES", "text", "openid profile", "The scopes asked for (space-separated; `openid` always)"),
    Variable(
        "ECERT_OIDC_ALLOW_HTTP",
        "text",
        "off",
        "Accept an `http://127.0.0.1` or `localhost` issuer: tests and the demo only (1/true/yes/on)",
    ),
)


def markdown_table() -> str:
    """:data:`VARIABLES` as the one table of docs/configuration.md (tests/unit/test_config.py holds them equal)."""
    rows = ["| variable | type | default | meaning |", "|---|---|---|---|"]
    for v in VARIABLES:
        default = f"`{v.default}`" if v.default else "—"
        rows.append(f"| `{v.name}` | {v.type} | {default} | {v.meaning} |")
    return "\n".join(rows) + "\n"


T = TypeVar("T")


def _addresses(env: Environ, name: str) -> tuple[str, ...]:
    """A comma-separated list of IP addresses or CIDR networks; a word that is neither is
    ``bad_setting``, so a typo never leaves a door open (or shut) without saying so."""
    raw = env.get(name, "")
    items = tuple(a.strip() for a in raw.split(",") if a.strip())
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError as exc:
            raise BadSetting(name, raw) from exc
    return items


def _number(env: Environ, name: str, default: str, parse: Callable[[str], T]) -> T:
    """``parse(env.get(name, default))``: an empty value is not the default, it is bad (as ever)."""
    raw = env.get(name, default)
    try:
        return parse(raw)
    except ValueError as exc:
        raise BadSetting(name, raw) from exc


def _required_or_off(value: str) -> bool:
    if value not in ("required", "off"):
        raise ValueError(value)
    return value == "required"


SEAL_PROFILES = ("auto", "B-B", "B-T", "B-LT", "B-LTA")  # adapters/signing/pades.py PROFILES, plus auto


def _seal_profile(value: str) -> str:
    if value not in SEAL_PROFILES:
        raise ValueError(value)
    return value


def _paths(value: str | None) -> tuple[Path, ...]:
    return tuple(Path(p) for p in (value or "").split(":") if p)


@dataclass(frozen=True)
class DbSettings:
    pool_size: int = 16
    pool_overflow: int = 16
    read_pool_size: int = 8

    @classmethod
    def from_environ(cls, env: Environ) -> DbSettings:
        return cls(
            pool_size=_number(env, "ECERT_DB_POOL_SIZE", "16", int),
            pool_overflow=_number(env, "ECERT_DB_POOL_OVERFLOW", "16", int),
            read_pool_size=_number(env, "ECERT_DB_READ_POOL_SIZE", "8", int),
        )


@dataclass(frozen=True)
class KeysSettings:
    """Where the keys come from, as given; adapters/keystore.py turns it into a seal configuration
    (and says ``bad_keys`` for a combination that does not go together)."""

    keys_dir: Path = DEFAULT_KEYS_DIR
    seal_key: Path | None = None
    seal_cert: Path | None = None
    seal_chain: tuple[Path, ...] = ()
    seal_key_password: str | None = None
    seal_pkcs12: Path | None = None
    seal_pkcs12_password: str | None = None
    pkcs11_module: Path | None = None
    pkcs11_token: str = ""
    pkcs11_pin: str | None = None
    pkcs11_key_label: str = ""
    trust_roots: tuple[Path, ...] = ()
    tsa_url: str | None = None
    seal_profile: str = "auto"  # ECERT_SEAL_PROFILE: auto | B-B | B-T | B-LT | B-LTA
    seal_crls: tuple[Path, ...] = ()
    base_url: str = DEFAULT_BASE_URL
    sm2_seal_key: Path | None = None
    sm2_seal_cert: Path | None = None
    sm2_seal: Path | None = None
    sm2_trust_roots: tuple[Path, ...] = ()

    @classmethod
    def from_environ(cls, env: Environ) -> KeysSettings:
        def path(name: str) -> Path | None:
            return Path(env[name]) if env.get(name) else None

        return cls(
            keys_dir=Path(env.get("ECERT_KEYS_DIR") or DEFAULT_KEYS_DIR),
            seal_key=path("ECERT_SEAL_KEY"),
            seal_cert=path("ECERT_SEAL_CERT"),
            seal_chain=_paths(env.get("ECERT_SEAL_CHAIN")),
            seal_key_password=env.get("ECERT_SEAL_KEY_PASSWORD") or None,
            seal_pkcs12=path("ECERT_SEAL_PKCS12"),
            seal_pkcs12_password=env.get("ECERT_SEAL_PKCS12_PASSWORD") or None,
            pkcs11_module=path("ECERT_PKCS11_MODULE"),
            pkcs11_token=env.get("ECERT_PKCS11_TOKEN", ""),
            pkcs11_pin=env.get("ECERT_PKCS11_PIN"),
            pkcs11_key_label=env.get("ECERT_PKCS11_KEY_LABEL", ""),
            trust_roots=_paths(env.get("ECERT_TRUST_ROOTS")),
            tsa_url=env.get("ECERT_TSA_URL") or None,
            seal_profile=_number(env, "ECERT_SEAL_PROFILE", "auto", _seal_profile),
            seal_crls=_paths(env.get("ECERT_SEAL_CRLS")),
            base_url=env.get("ECERT_BASE_URL") or DEFAULT_BASE_URL,
            sm2_seal_key=path("ECERT_SM2_SEAL_KEY"),
            sm2_seal_cert=path("ECERT_SM2_SEAL_CERT"),
            sm2_seal=path("ECERT_SM2_SEAL"),
            sm2_trust_roots=_paths(env.get("ECERT_SM2_TRUST_ROOTS")),
        )


@dataclass(frozen=True)
class VerificationLogSettings:
    buffer: int = 10000
    interval: float = 1.0

    @classmethod
    def from_environ(cls, env: Environ) -> VerificationLogSettings:
        return cls(
            buffer=_number(env, "ECERT_VERIFY_LOG_BUFFER", "10000", int),
            interval=_number(env, "ECERT_VERIFY_LOG_INTERVAL", "1.0", float),
        )


@dataclass(frozen=True)
class RateLimitSettings:
    per_minute: float = 120.0
    redis_url: str | None = None
    redis_prefix: str = "ecert"

    @classmethod
    def from_environ(cls, env: Environ) -> RateLimitSettings:
        return cls(
            per_minute=_number(env, "ECERT_VERIFY_RATE", "120", float),
            redis_url=env.get("ECERT_REDIS_URL") or None,
            redis_prefix=env.get("ECERT_REDIS_PREFIX", "ecert"),
        )


@dataclass(frozen=True)
class WebSettings:
    qr_token_cache: int = 16384
    import_max_mb: int = 200
    log_level: str = "info"
    # Forwarded headers are believed only from these peers: believed from anyone (or from loopback,
    # uvicorn's default), a client rotates X-Forwarded-For and escapes every per-client limit.
    trusted_proxies: tuple[str, ...] = ()
    # /metrics names routes, error counts and queue depths: only for the configured scrapers.
    metrics_allow: tuple[str, ...] = ()
    metrics_token: str = ""
    staff_2fa: bool = True  # ECERT_STAFF_2FA=required (default) | off

    @property
    def import_max_bytes(self) -> int:
        return self.import_max_mb * 1024 * 1024

    @classmethod
    def from_environ(cls, env: Environ) -> WebSettings:
        return cls(
            qr_token_cache=_number(env, "ECERT_QR_TOKEN_CACHE", "16384", int),
            import_max_mb=_number(env, "ECERT_IMPORT_MAX_MB", "200", int),
            log_level=env.get("ECERT_LOG_LEVEL", "info"),
            trusted_proxies=_addresses(env, "ECERT_TRUSTED_PROXIES"),
            metrics_allow=_addresses(env, "ECERT_METRICS_ALLOW"),
            metrics_token=env.get("ECERT_METRICS_TOKEN", ""),
            staff_2fa=_number(env, "ECERT_STAFF_2FA", "required", _required_or_off),
        )


@dataclass(frozen=True)
class RosterSettings:
    """Roster reports (services/roster.py): the most rows one report answers (a bigger roster is
    refused, never cut short), the largest upload, and from how many rows the web runs it as a job."""

    max_rows: int = 20000
    max_mb: int = 100
    job_rows: int = 200

    @property
    def max_bytes(self) -> int:
        return self.max_mb * 1024 * 1024

    @classmethod
    def from_environ(cls, env: Environ) -> RosterSettings:
        return cls(
            max_rows=_number(env, "ECERT_ROSTER_MAX_ROWS", "20000", int),
            max_mb=_number(env, "ECERT_ROSTER_MAX_MB", "100", int),
            job_rows=_number(env, "ECERT_ROSTER_JOB_ROWS", "200", int),
        )


@dataclass(frozen=True)
class WebhookSettings:
    """Notifications to subscribers (issue 14; services/subscriptions.py, adapters/webhooks.py): request
    timeout, tries and back-off, the lease of a claimed batch, parallel requests, and whether plain
    http and non-public addresses are allowed (never in production)."""

    timeout: float = 10.0
    max_attempts: int = 8
    backoff: float = 30.0
    backoff_max: float = 21600.0
    lease: float = 120.0
    concurrency: int = 8
    allow_http: bool = False
    allow_private: bool = False

    @classmethod
    def from_environ(cls, env: Environ) -> WebhookSettings:
        def positive(parse: Callable[[str], T]) -> Callable[[str], T]:
            def check(raw: str) -> T:
                value = parse(raw)
                if not value > 0:  # type: ignore[operator]
                    raise ValueError(raw)
                return value

            return check

        return cls(
            timeout=_number(env, "ECERT_WEBHOOK_TIMEOUT", "10", positive(float)),
            max_attempts=_number(env, "ECERT_WEBHOOK_MAX_ATTEMPTS", "8", positive(int)),
            backoff=_number(env, "ECERT_WEBHOOK_BACKOFF", "30", positive(float)),
            backoff_max=_number(env, "ECERT_WEBHOOK_BACKOFF_MAX", "21600", positive(float)),
            lease=_number(env, "ECERT_WEBHOOK_LEASE", "120", positive(float)),
            concurrency=_number(env, "ECERT_WEBHOOK_CONCURRENCY", "8", positive(int)),
            allow_http=_switch(env, "ECERT_WEBHOOK_ALLOW_HTTP"),
            allow_private=_switch(env, "ECERT_WEBHOOK_ALLOW_PRIVATE"),
        )


MAIL_VARIABLES = (
    "ECERT_SMTP_HOST",
    "ECERT_SMTP_PORT",
    "ECERT_SMTP_FROM",
    "ECERT_SMTP_STARTTLS",
    "ECERT_SMTP_USER",
    "ECERT_SMTP_PASSWORD",
)


@dataclass(frozen=True)
class MailSettings:
    """The ``ECERT_SMTP_*`` values as set. They are checked when a mailer is built
    (bootstrap.make_mailer → adapters/email.py ``MailConfigError`` naming the variable), not at
    start: a command that sends no mail does not fail for a bad mail setting."""

    values: tuple[tuple[str, str], ...] = ()

    @property
    def variables(self) -> dict[str, str]:
        return dict(self.values)

    @classmethod
    def from_environ(cls, env: Environ) -> MailSettings:
        return cls(tuple((name, env[name]) for name in MAIL_VARIABLES if name in env))


@dataclass(frozen=True)
class OidcSettings:
    """The platform sign-in (``ECERT_OIDC_*``); :attr:`enabled` when an issuer is set. Checked here, at
    start: an issuer without a client id, or a plain-http issuer that is not this machine's, is refused."""

    issuer: str = ""
    client_id: str = ""
    client_secret: str = ""
    id_number_claim: str = "id_number"
    name_claim: str = "name"
    scopes: tuple[str, ...] = ("openid", "profile")
    allow_http: bool = False

    @property
    def enabled(self) -> bool:
        return bool(self.issuer)

    @classmethod
    def from_environ(cls, env: Environ) -> OidcSettings:
        issuer = env.get("ECERT_OIDC_ISSUER", "").rstrip("/")
        allow_http = _switch(env, "ECERT_OIDC_ALLOW_HTTP")
        scopes = tuple(dict.fromkeys(["openid", *env.get("ECERT_OIDC_SCOPES", "openid profile").split()]))
        settings = cls(
            issuer=issuer,
            client_id=env.get("ECERT_OIDC_CLIENT_ID", ""),
            client_secret=env.get("ECERT_OIDC_CLIENT_SECRET", ""),
            id_number_claim=env.get("ECERT_OIDC_ID_NUMBER_CLAIM") or "id_number",
            name_claim=env.get("ECERT_OIDC_NAME_CLAIM", "name"),
            scopes=scopes,
            allow_http=allow_http,
        )
        if issuer:
            parts = urlsplit(issuer)
            loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
            if not parts.hostname or parts.scheme not in ("https", "http") or parts.query or parts.fragment:
                raise BadSetting("ECERT_OIDC_ISSUER", issuer)
            if parts.scheme == "http" and not (allow_http and loopback):
                raise BadSetting("ECERT_OIDC_ISSUER", issuer)
            if not settings.client_id:
                raise BadSetting("ECERT_OIDC_CLIENT_ID", "")
        return settings


_ON, _OFF = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def _switch(env: Environ, name: str) -> bool:
    raw = env.get(name, "")
    if raw.lower() not in _ON + _OFF:
        raise BadSetting(name, raw)
    return raw.lower() in _ON


def _environ() -> Environ:
    return os.environ


@dataclass(frozen=True)
class Settings:
    """Groups not given are read from the environment when the Settings is made."""

    database_url: str
    lang: str = "zh"
    today_override: date | None = None  # ECERT_TODAY: drills and tests only (R-DATE-1)
    policy_file: Path | None = None
    actor: str | None = None  # ECERT_ACTOR
    db: DbSettings = field(default_factory=lambda: DbSettings.from_environ(_environ()))
    keys: KeysSettings = field(default_factory=lambda: KeysSettings.from_environ(_environ()))
    verification_log: VerificationLogSettings = field(
        default_factory=lambda: VerificationLogSettings.from_environ(_environ())
    )
    ratelimit: RateLimitSettings = field(default_factory=lambda: RateLimitSettings.from_environ(_environ()))
    web: WebSettings = field(default_factory=lambda: WebSettings.from_environ(_environ()))
    mail: MailSettings = field(default_factory=lambda: MailSettings.from_environ(_environ()))
    oidc: OidcSettings = field(default_factory=lambda: OidcSettings.from_environ(_environ()))
    roster: RosterSettings = field(default_factory=lambda: RosterSettings.from_environ(_environ()))
    webhooks: WebhookSettings = field(default_factory=lambda: WebhookSettings.from_environ(_environ()))


def default_database_url(environ: Environ | None = None) -> str:
    url = (os.environ if environ is None else environ).get("ECERT_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{DEFAULT_DB_PATH}"


def parse_today(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise EcertError("bad_policy", params={"reason": f"ECERT_TODAY={value!r} is not YYYY-MM-DD"}) from exc


def language(wanted: str | None) -> str:
    """``en`` for anything starting with "en" (any case), else ``zh``."""
    return "en" if (wanted or "").lower().startswith("en") else "zh"


def wanted_language(cli_lang: str | None, environ: Environ | None = None) -> str:
    """The language before the settings are loaded (an error in loading them is said in it):
    ``--lang``, else ``ECERT_LANG``, else zh."""
    env = os.environ if environ is None else environ
    return language(cli_lang or env.get("ECERT_LANG") or "")


def pass_to_workers(
    db: str | None, lang: str | None, policy: str | None, environ: MutableMapping[str, str] | None = None
) -> None:
    """``ecert serve``: the command line's ``--db``, ``--lang`` and ``--policy`` reach the web
    workers (uvicorn imports the app factory in each, which calls :func:`load_settings`) through
    the environment, as ``ECERT_DATABASE_URL``, ``ECERT_LANG`` and ``ECERT_POLICY_FILE``."""
    env = os.environ if environ is None else environ
    for name, value in (("ECERT_DATABASE_URL", db), ("ECERT_LANG", lang), ("ECERT_POLICY_FILE", policy)):
        if value:
            env[name] = value


def load_settings(
    db: str | None = None, lang: str | None = None, policy: str | None = None, *, environ: Environ | None = None
) -> Settings:
    """Every ``ECERT_*`` variable, read now from ``environ`` (default: the process environment);
    ``db``, ``lang`` and ``policy`` are the command line's, and win over the environment."""
    env = os.environ if environ is None else environ
    policy_path = policy or env.get("ECERT_POLICY_FILE")
    return Settings(
        database_url=db or default_database_url(env),
        lang=language(lang or env.get("ECERT_LANG") or "zh"),
        today_override=parse_today(env.get("ECERT_TODAY")),
        policy_file=Path(policy_path) if policy_path else None,
        actor=env.get("ECERT_ACTOR") or None,
        db=DbSettings.from_environ(env),
        keys=KeysSettings.from_environ(env),
        verification_log=VerificationLogSettings.from_environ(env),
        ratelimit=RateLimitSettings.from_environ(env),
        web=WebSettings.from_environ(env),
        mail=MailSettings.from_environ(env),
        oidc=OidcSettings.from_environ(env),
        roster=RosterSettings.from_environ(env),
        webhooks=WebhookSettings.from_environ(env),
    )


def default_policy_data() -> dict[str, Any]:
    text = resources.files("ecert.domain").joinpath("default_policy.toml").read_text("utf-8")
    return tomllib.loads(text)


def load_policy(path: Path | None = None) -> Policy:
    """The default policy, deep-merged with ``path`` if given; validated (fails at start, not later)."""
    data = default_policy_data()
    if path is not None:
        try:
            override = tomllib.loads(path.read_bytes().decode("utf-8"))
        except OSError as exc:
            found = input_problem(path, exc)
            reason = Localized(found.message_zh, found.message_en)
            raise EcertError("bad_policy", params={"reason": reason}) from exc
        except UnicodeDecodeError as exc:
            reason = Localized(f"{path} 不是 UTF-8 编码的 TOML 文件", f"{path} is not a UTF-8 TOML file")
            raise EcertError("bad_policy", params={"reason": reason}) from exc
        except tomllib.TOMLDecodeError as exc:
            raise EcertError("bad_policy", params={"reason": f"{path}: {exc}"}) from exc
        data = merge(data, override)
    return parse_policy(data)
