"""Settings from the environment and the command line (docs/cli.md "Global")."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from ecert.adapters.files import input_problem
from ecert.domain.errors import EcertError
from ecert.domain.messages import Localized
from ecert.domain.policy import Policy, merge, parse_policy

DEFAULT_DB_PATH = Path("var") / "ecert.db"


@dataclass(frozen=True)
class Settings:
    database_url: str
    lang: str = "zh"
    today_override: date | None = None  # ECERT_TODAY: drills and tests only (R-DATE-1)
    policy_file: Path | None = None


def default_database_url() -> str:
    url = os.environ.get("ECERT_DATABASE_URL")
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


def load_settings(db: str | None = None, lang: str | None = None, policy: str | None = None) -> Settings:
    lang = lang or os.environ.get("ECERT_LANG") or "zh"
    policy_path = policy or os.environ.get("ECERT_POLICY_FILE")
    return Settings(
        database_url=db or default_database_url(),
        lang="en" if lang.lower().startswith("en") else "zh",
        today_override=parse_today(os.environ.get("ECERT_TODAY")),
        policy_file=Path(policy_path) if policy_path else None,
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
