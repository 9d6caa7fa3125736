"""Settings: ``config/settings.toml`` overridden by ``NEWSAGG_<SECTION>_<KEY>`` variables.

Loaded once at start-up, validated with messages that name the key, frozen and passed in.
Secrets (``[web] editor_token``) may also come from ``NEWSAGG_WEB_EDITOR_TOKEN_FILE``; they are
never logged (``Settings.redacted()`` is what logs see).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from aggregator.errors import ConfigError

DEFAULT_SETTINGS_PATH = "config/settings.toml"
DEFAULT_OUTLETS_PATH = "config/outlets.toml"
DEFAULT_LEXICONS_PATH = "config/lexicons.toml"
DEFAULT_DATABASE_URL = "sqlite:///./data/newsagg.db"
USER_AGENT = "newsagg/0.1 (+https://github.com/newsagg/newsagg; news aggregator for research)"
SECRET_KEYS = frozenset({"editor_token", "read_token"})


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    url: str = DEFAULT_DATABASE_URL
    busy_timeout_ms: int = 10_000
    pool_size: int = 5


@dataclass(frozen=True, slots=True)
class FetchSettings:
    allow_hosts: tuple[str, ...] = ()
    per_host_delay_s: float = 1.0
    per_host_concurrency: int = 2
    timeout_s: float = 10.0  # connect and per-read timeout
    deadline_s: float = 30.0  # wall-clock limit for a whole request, redirects included
    max_bytes: int = 10_000_000  # decoded body size cap
    max_redirects: int = 5
    user_agent: str = USER_AGENT
    respect_robots: bool = True
    robots_ttl_s: float = 3600.0
    unconditional_every_h: float = 24.0  # a plain GET now and then, whatever the validators
    max_host_pause_s: float = 3600.0  # cap on the pause a Retry-After puts on a whole origin


@dataclass(frozen=True, slots=True)
class PollSettings:
    default_interval_minutes: int = 15
    min_interval_minutes: int = 2
    max_interval_minutes: int = 24 * 60
    max_backoff_minutes: int = 12 * 60
    max_retry_after_minutes: int = 24 * 60
    tick_seconds: float = 30.0
    feeds_per_tick: int = 50
    feed_workers: int = 8
    max_items_per_feed: int = 200
    max_revisions_per_article: int = 10
    lease_seconds: float = 300.0


@dataclass(frozen=True, slots=True)
class ParseSettings:
    timeout_s: float = 10.0
    workers: int = 1


@dataclass(frozen=True, slots=True)
class ExtractSettings:
    workers: int = 0  # 0: one per CPU core
    timeout_s: float = 20.0
    min_text_chars: int = 250
    max_html_bytes: int = 5_000_000
    # "when_missing": read a page's title, author and date only when its feed entry lacks a
    # title or a date (a third of the extraction cost); "always": read them for every page
    page_metadata: str = "when_missing"
    # niceness of the extraction processes: when the web UI and extraction both want the CPU,
    # the web UI gets it first (0: the service's own priority)
    nice: int = 5

    def __post_init__(self) -> None:
        if not 0 <= self.nice <= 19:
            raise ConfigError(f"must be 0 to 19, not {self.nice}", resource="[extract] nice")
        if self.page_metadata not in {"when_missing", "always"}:
            raise ConfigError(
                f"must be 'when_missing' or 'always', not {self.page_metadata!r}",
                resource="[extract] page_metadata",
            )


@dataclass(frozen=True, slots=True)
class WebSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    editor_token: str | None = None  # editor actions need it; unset means editing is off
    read_token: str | None = None  # set it to close the read-only pages and API
    page_size: int = 50
    max_page_size: int = 500


@dataclass(frozen=True, slots=True)
class RetentionSettings:
    html_days: int = 30  # raw HTML is dropped after this; text, clusters, tombstones stay
    fetch_log_days: int = 30
    every_hours: float = 6.0


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    # glibc's allocator in the service and web processes (aggregator/allocator.py): arenas
    # (0: glibc's default, 8 per core) and a fixed mmap threshold (0: glibc's rising one)
    malloc_arenas: int = 2
    malloc_mmap_threshold_kb: int = 128
    # the scheduler's jobs (polling, clustering, comparisons) run this many niceness steps
    # below the web UI's process, so pages answer first when both want the CPU (0: same)
    nice: int = 3

    def __post_init__(self) -> None:
        if not 0 <= self.nice <= 19:
            raise ConfigError(f"must be 0 to 19, not {self.nice}", resource="[service] nice")
        if not 0 <= self.malloc_arenas <= 64:
            raise ConfigError(
                f"must be 0 to 64, not {self.malloc_arenas}", resource="[service] malloc_arenas"
            )
        if not 0 <= self.malloc_mmap_threshold_kb <= 32 * 1024:
            raise ConfigError(
                f"must be 0 to 32768, not {self.malloc_mmap_threshold_kb}",
                resource="[service] malloc_mmap_threshold_kb",
            )


@dataclass(frozen=True, slots=True)
class LogSettings:
    format: str = "kv"  # "kv" or "json"
    level: str = "INFO"


@dataclass(frozen=True, slots=True)
class Settings:
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    fetch: FetchSettings = field(default_factory=FetchSettings)
    poll: PollSettings = field(default_factory=PollSettings)
    parse: ParseSettings = field(default_factory=ParseSettings)
    extract: ExtractSettings = field(default_factory=ExtractSettings)
    web: WebSettings = field(default_factory=WebSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    log: LogSettings = field(default_factory=LogSettings)
    service: ServiceSettings = field(default_factory=ServiceSettings)
    dedup: Mapping[str, Any] = field(default_factory=dict)  # overrides of the dedup parameters
    outlets_path: str = DEFAULT_OUTLETS_PATH
    lexicons_path: str = DEFAULT_LEXICONS_PATH

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict with secrets masked, for logs and the manifest: the web
        tokens, and the password of the database URL."""
        out = dataclasses.asdict(self)
        for section in out.values():
            if isinstance(section, dict):
                for key in SECRET_KEYS & section.keys():
                    section[key] = "***" if section[key] else None
        out["database"]["url"] = _mask_password(out["database"]["url"])
        return out


def _mask_password(url: str) -> str:
    """``scheme://user:***@host/db`` for ``scheme://user:password@host/db``."""
    scheme, sep, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    credentials, at, host = netloc.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}{slash}{path}"


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings file (if present) and apply environment overrides."""
    env = os.environ if env is None else env
    path = Path(path or env.get("NEWSAGG_SETTINGS", DEFAULT_SETTINGS_PATH))
    raw = _read_toml(path) if path.exists() else {}
    if "NEWSAGG_SETTINGS" in env and not path.exists():
        raise ConfigError(f"settings file {path} does not exist", resource="NEWSAGG_SETTINGS")
    sections: dict[str, Any] = {}
    for name, cls in _section_types().items():
        given = raw.pop(name, {})
        if not isinstance(given, dict):
            raise ConfigError(f"[{name}] must be a table", resource=str(path))
        sections[name] = _build_section(name, cls, given, env, str(path))
    dedup = raw.pop("dedup", {})
    if raw:
        raise ConfigError(f"unknown section(s) {sorted(raw)}", resource=str(path))
    return Settings(
        **sections,
        dedup=dict(dedup),
        outlets_path=env.get("NEWSAGG_OUTLETS", DEFAULT_OUTLETS_PATH),
        lexicons_path=env.get("NEWSAGG_LEXICONS", DEFAULT_LEXICONS_PATH),
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read settings: {exc}", resource=str(path)) from exc


def _section_types() -> dict[str, type[Any]]:
    hints = typing.get_type_hints(Settings)
    return {
        name: hint
        for name, hint in hints.items()
        if isinstance(hint, type) and dataclasses.is_dataclass(hint)
    }


def _build_section(
    name: str, cls: type[Any], given: dict[str, Any], env: Mapping[str, str], where: str
) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = set(given) - known
    if unknown:
        raise ConfigError(f"unknown key(s) in [{name}]: {sorted(unknown)}", resource=where)
    values: dict[str, Any] = {}
    for key in known:
        var = f"NEWSAGG_{name.upper()}_{key.upper()}"
        if var in env:
            values[key] = _convert(env[var], hints[key], var)
        elif f"{var}_FILE" in env and key in SECRET_KEYS:
            values[key] = _read_secret_file(env[f"{var}_FILE"], f"{var}_FILE")
        elif key in given:
            values[key] = _check_type(given[key], hints[key], f"[{name}] {key}")
    return cls(**values)


def _read_secret_file(path: str, var: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read secret file: {exc.strerror}", resource=var) from exc


def _convert(text: str, hint: Any, name: str) -> Any:
    """Turn an environment string into the type a setting wants."""
    base, optional = _unwrap_optional(hint)
    if optional and text.strip() == "":
        return None
    try:
        if base is bool:
            return _parse_bool(text)
        if base is int:
            return int(text)
        if base is float:
            return float(text)
        if typing.get_origin(base) is tuple:
            return tuple(part.strip() for part in text.split(",") if part.strip())
        return text
    except ValueError as exc:
        raise ConfigError(f"invalid value {text!r}: {exc}", resource=name) from exc


def _check_type(value: Any, hint: Any, name: str) -> Any:
    base, optional = _unwrap_optional(hint)
    if value is None and optional:
        return None
    if typing.get_origin(base) is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError("must be a list of strings", resource=name)
        return tuple(value)
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, base) or (base is int and isinstance(value, bool)):
        raise ConfigError(f"must be {base.__name__}, got {value!r}", resource=name)
    return value


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0], True
    return hint, False


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")
