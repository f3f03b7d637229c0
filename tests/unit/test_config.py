"""One settings object (issue 11 item 5): every ``ECERT_*`` variable is read in config.py, listed
in ``VARIABLES`` and docs/configuration.md, parsed as before, and a bad value is ``bad_setting``."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from ecert import config
from ecert.adapters import keystore
from ecert.config import VARIABLES, KeysSettings, Settings, load_settings, markdown_table
from ecert.domain.errors import BadSetting, EcertError

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "ecert"
ENV_NAME = re.compile(r"\bECERT_[A-Z0-9_]*[A-Z0-9]\b")
ENV_READ = re.compile(r"os\.environ|getenv")


@pytest.mark.parametrize("doc", ["docs/configuration.md", "README.md"])
def test_docs_configuration_is_the_variables_table(doc: str) -> None:
    text = (ROOT / doc).read_text("utf-8")
    assert markdown_table() in text
    if doc == "docs/configuration.md":  # the whole document's one table
        table = [line for line in text.splitlines() if line.startswith("|")]
        assert "\n".join(table) + "\n" == markdown_table()


def test_every_variable_named_in_the_code_is_in_the_table_and_back() -> None:
    named: set[str] = set()
    for f in SRC.rglob("*"):
        if f.suffix in {".py", ".toml"}:
            named |= set(ENV_NAME.findall(f.read_text("utf-8")))
    listed = {v.name for v in VARIABLES}
    assert len(listed) == len(VARIABLES)
    assert named - listed == set()
    assert {v.name for v in VARIABLES} - named == set()


def test_only_config_reads_the_environment() -> None:
    readers = sorted(str(f.relative_to(SRC)) for f in SRC.rglob("*.py") if ENV_READ.search(f.read_text("utf-8")))
    assert readers == ["config.py"]


def test_defaults_from_an_empty_environment() -> None:
    s = load_settings(environ={})
    assert s.database_url == "sqlite:///var/ecert.db"
    assert (s.lang, s.today_override, s.policy_file, s.actor) == ("zh", None, None, None)
    assert (s.db.pool_size, s.db.pool_overflow, s.db.read_pool_size) == (16, 16, 8)
    assert (s.verification_log.buffer, s.verification_log.interval) == (10000, 1.0)
    assert (s.ratelimit.per_minute, s.ratelimit.redis_url, s.ratelimit.redis_prefix) == (120.0, None, "ecert")
    assert (s.web.qr_token_cache, s.web.import_max_mb, s.web.log_level) == (16384, 200, "info")
    assert s.web.import_max_bytes == 200 * 1024 * 1024
    assert s.mail.variables == {}
    assert s.keys == KeysSettings()
    assert s.keys.keys_dir == Path("var") / "keys" and s.keys.base_url == "https://ecert.example.cn"


def test_every_default_in_the_table_is_the_parsed_one() -> None:
    s = load_settings(environ={})
    parsed = {
        "ECERT_DATABASE_URL": s.database_url,
        "ECERT_LANG": s.lang,
        "ECERT_DB_POOL_SIZE": str(s.db.pool_size),
        "ECERT_DB_POOL_OVERFLOW": str(s.db.pool_overflow),
        "ECERT_DB_READ_POOL_SIZE": str(s.db.read_pool_size),
        "ECERT_KEYS_DIR": str(s.keys.keys_dir),
        "ECERT_BASE_URL": s.keys.base_url,
        "ECERT_VERIFY_LOG_BUFFER": str(s.verification_log.buffer),
        "ECERT_VERIFY_LOG_INTERVAL": str(s.verification_log.interval),
        "ECERT_VERIFY_RATE": str(int(s.ratelimit.per_minute)),
        "ECERT_REDIS_PREFIX": s.ratelimit.redis_prefix,
        "ECERT_QR_TOKEN_CACHE": str(s.web.qr_token_cache),
        "ECERT_IMPORT_MAX_MB": str(s.web.import_max_mb),
        "ECERT_LOG_LEVEL": s.web.log_level,
    }
    table = {v.name: v.default for v in VARIABLES}
    assert {name: table[name] for name in parsed} == parsed


def test_values_from_the_environment() -> None:
    env = {
        "ECERT_DATABASE_URL": "postgresql+psycopg://u@h/db",
        "ECERT_LANG": "EN-us",
        "ECERT_POLICY_FILE": "p.toml",
        "ECERT_TODAY": "2021-03-01",
        "ECERT_ACTOR": "ops:li",
        "ECERT_DB_POOL_SIZE": " 4 ",
        "ECERT_DB_POOL_OVERFLOW": "0",
        "ECERT_DB_READ_POOL_SIZE": "2",
        "ECERT_VERIFY_LOG_BUFFER": "5",
        "ECERT_VERIFY_LOG_INTERVAL": "0.25",
        "ECERT_VERIFY_RATE": "7.5",
        "ECERT_REDIS_URL": "redis://r",
        "ECERT_REDIS_PREFIX": "",
        "ECERT_QR_TOKEN_CACHE": "0",
        "ECERT_IMPORT_MAX_MB": "1",
        "ECERT_LOG_LEVEL": "debug",
        "ECERT_SMTP_HOST": "mail",
        "ECERT_SMTP_PORT": "",
        "UNRELATED": "x",
    }
    s = load_settings(environ=env)
    assert (s.database_url, s.lang, s.policy_file, s.actor) == (
        env["ECERT_DATABASE_URL"],
        "en",
        Path("p.toml"),
        "ops:li",
    )
    assert s.today_override == date(2021, 3, 1)
    assert (s.db.pool_size, s.db.pool_overflow, s.db.read_pool_size) == (4, 0, 2)
    assert (s.verification_log.buffer, s.verification_log.interval) == (5, 0.25)
    assert (s.ratelimit.per_minute, s.ratelimit.redis_url, s.ratelimit.redis_prefix) == (7.5, "redis://r", "")
    assert (s.web.qr_token_cache, s.web.import_max_mb, s.web.log_level) == (0, 1, "debug")
    assert s.mail.variables == {"ECERT_SMTP_HOST": "mail", "ECERT_SMTP_PORT": ""}


def test_the_command_line_wins_over_the_environment() -> None:
    env = {"ECERT_DATABASE_URL": "sqlite:///a.db", "ECERT_LANG": "en", "ECERT_POLICY_FILE": "a.toml"}
    s = load_settings("sqlite:///b.db", "zh", "b.toml", environ=env)
    assert (s.database_url, s.lang, s.policy_file) == ("sqlite:///b.db", "zh", Path("b.toml"))
    empty = {"ECERT_DATABASE_URL": "", "ECERT_LANG": "", "ECERT_POLICY_FILE": "", "ECERT_TODAY": ""}
    s = load_settings(environ=empty)
    assert (s.database_url, s.lang, s.policy_file, s.today_override) == ("sqlite:///var/ecert.db", "zh", None, None)


@pytest.mark.parametrize(
    "name",
    [
        "ECERT_DB_POOL_SIZE",
        "ECERT_DB_POOL_OVERFLOW",
        "ECERT_DB_READ_POOL_SIZE",
        "ECERT_VERIFY_LOG_BUFFER",
        "ECERT_VERIFY_LOG_INTERVAL",
        "ECERT_VERIFY_RATE",
        "ECERT_QR_TOKEN_CACHE",
        "ECERT_IMPORT_MAX_MB",
    ],
)
@pytest.mark.parametrize("value", ["", "many", "1.5.2"])
def test_a_number_that_does_not_parse_is_bad_setting(name: str, value: str) -> None:
    """An empty value is not the default: it failed before (``int("")``) and fails now, with a code."""
    with pytest.raises(BadSetting) as caught:
        load_settings(environ={name: value})
    err = caught.value
    assert isinstance(err, EcertError)
    assert (err.code, err.variable, err.value) == ("bad_setting", name, value)
    assert name in err.message("en") and name in err.message("zh")
    assert err.as_dict("en")["error"]["code"] == "bad_setting"


def test_a_bad_today_stays_bad_policy() -> None:
    with pytest.raises(EcertError) as caught:
        load_settings(environ={"ECERT_TODAY": "2021-13-01"})
    assert caught.value.code == "bad_policy"


def test_settings_are_read_per_call_not_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECERT_DB_POOL_SIZE", "3")
    monkeypatch.setenv("ECERT_KEYS_DIR", "/tmp/k1")
    assert load_settings().db.pool_size == 3
    assert Settings(database_url="sqlite://").keys.keys_dir == Path("/tmp/k1")
    monkeypatch.setenv("ECERT_DB_POOL_SIZE", "5")
    monkeypatch.setenv("ECERT_KEYS_DIR", "/tmp/k2")
    assert load_settings().db.pool_size == 5
    assert Settings(database_url="sqlite://").keys.keys_dir == Path("/tmp/k2")


def test_settings_are_frozen_and_hashable() -> None:
    """Hashable: the batch workers cache their composition root per settings (services/batch.py)."""
    s = load_settings(environ={"ECERT_SMTP_HOST": "mail", "ECERT_SEAL_CHAIN": "a.pem:b.pem"})
    assert hash(s) == hash(replace(s))
    with pytest.raises(AttributeError):
        s.lang = "en"  # type: ignore[misc]


def test_keys_from_the_environment() -> None:
    env = {
        "ECERT_KEYS_DIR": "k",
        "ECERT_SEAL_KEY": "s.key",
        "ECERT_SEAL_CERT": "s.crt",
        "ECERT_SEAL_CHAIN": "a.pem::b.pem",
        "ECERT_SEAL_KEY_PASSWORD": "pw",
        "ECERT_TRUST_ROOTS": "r1.pem:r2.pem",
        "ECERT_TSA_URL": "",
        "ECERT_BASE_URL": "",
    }
    cfg = load_settings(environ=env).keys
    assert cfg.seal_chain == (Path("a.pem"), Path("b.pem"))
    assert (cfg.tsa_url, cfg.base_url) == (None, config.DEFAULT_BASE_URL)
    ks = keystore.key_settings(cfg)
    assert ks == keystore.key_settings_from_env(env)
    assert ks.seal is not None and ks.seal.kind == "pem" and ks.seal.key_password == b"pw"
    assert ks.trust_roots == (Path("r1.pem"), Path("r2.pem")) and not ks.is_demo
    assert keystore.key_settings(KeysSettings()).is_demo


def test_a_seal_key_without_its_certificate_is_bad_keys() -> None:
    with pytest.raises(EcertError) as caught:
        keystore.key_settings(load_settings(environ={"ECERT_SEAL_KEY": "s.key"}).keys)
    assert caught.value.code == "bad_keys"


def test_the_builders_take_the_settings() -> None:
    from ecert.adapters.email import MailConfigError, SmtpMailer
    from ecert.adapters.ratelimit import ClientBuckets
    from ecert.bootstrap import bootstrap, make_job_queue, make_mailer, make_rate_limiter, make_verification_log

    env = {"ECERT_SMTP_HOST": "mail", "ECERT_SMTP_PORT": "2525", "ECERT_SMTP_STARTTLS": "on"}
    mailer = make_mailer(load_settings(environ=env))
    assert isinstance(mailer, SmtpMailer)
    assert (mailer.host, mailer.port, mailer.starttls, mailer.sender) == (
        "mail",
        2525,
        True,
        "noreply@ecert.example.cn",
    )
    with pytest.raises(MailConfigError) as caught:
        make_mailer(load_settings(environ={**env, "ECERT_SMTP_PORT": "²⁵"}))
    assert caught.value.variable == "ECERT_SMTP_PORT"
    limiter = make_rate_limiter(load_settings(environ={"ECERT_VERIFY_RATE": "2"}))
    assert isinstance(limiter, ClientBuckets)
    assert [limiter.allow("a") for _ in range(3)] == [True, True, False]
    a = bootstrap(
        load_settings("sqlite://", environ={"ECERT_VERIFY_LOG_BUFFER": "3", "ECERT_VERIFY_LOG_INTERVAL": "0.5"})
    )
    vlog = make_verification_log(a)
    assert (vlog.capacity, vlog.interval, vlog.engine) == (3, 0.5, a.engine)
    assert make_job_queue(a) is None  # SQLite: jobs run in process


def test_the_language_before_the_settings_and_what_serve_passes_to_its_workers() -> None:
    from ecert.config import pass_to_workers, wanted_language

    assert wanted_language(None, {}) == "zh"
    assert wanted_language(None, {"ECERT_LANG": "en_GB"}) == "en"
    assert wanted_language("zh", {"ECERT_LANG": "en"}) == "zh"
    env: dict[str, str] = {"ECERT_LANG": "en"}
    pass_to_workers("sqlite:///w.db", None, "p.toml", env)
    assert env == {"ECERT_LANG": "en", "ECERT_DATABASE_URL": "sqlite:///w.db", "ECERT_POLICY_FILE": "p.toml"}
    s = load_settings(environ=env)
    assert (s.database_url, s.lang, s.policy_file) == ("sqlite:///w.db", "en", Path("p.toml"))


def test_the_seal_profile_and_its_time_stamp_authority__R_DOC_2() -> None:
    """Issue 16 §2: ECERT_SEAL_PROFILE — auto is B-T with a TSA and B-B without; a time-stamped level without a
    TSA, and the in-process DEMO TSA with a real seal key, are refused (``bad_keys``); a typo is ``bad_setting``."""

    def profile(**env: str) -> str:
        return keystore.seal_profile(keystore.key_settings_from_env(env))

    assert profile() == "B-B" and profile(ECERT_TSA_URL="http://tsa.example/") == "B-T"
    assert profile(ECERT_TSA_URL="demo", ECERT_SEAL_PROFILE="B-LTA") == "B-LTA"
    assert profile(ECERT_TSA_URL="demo", ECERT_SEAL_PROFILE="B-B") == "B-B"
    for level in ("B-T", "B-LT", "B-LTA"):
        with pytest.raises(EcertError) as refused:
            profile(ECERT_SEAL_PROFILE=level)
        assert refused.value.code == "bad_keys" and "ECERT_TSA_URL" in str(refused.value.params), level
    with pytest.raises(BadSetting) as typo:
        profile(ECERT_SEAL_PROFILE="LTA")
    assert typo.value.variable == "ECERT_SEAL_PROFILE"
    real = keystore.key_settings_from_env(
        {"ECERT_SEAL_KEY": "s.key", "ECERT_SEAL_CERT": "s.crt", "ECERT_TSA_URL": "demo"}
    )
    with pytest.raises(EcertError) as demo_tsa:
        keystore.timestamper(real)
    assert demo_tsa.value.code == "bad_keys"
    assert keystore.timestamper(keystore.key_settings_from_env({})) is None
