"""Settings, read from environment variables or from Streamlit secrets passed in by the app.

Every setting is listed in `SETTINGS` and documented in the README (a test checks that).
An environment variable wins over a secret of the same name.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from locales import languages

from .errors import ConfigError
from .provider import PROVIDER_CHOICES
from .provider import resolve as resolve_provider

DEFAULT_BASE_URL = "https://ark.cn-beijing.volces.com/api/v3"
DEFAULT_MODEL = "doubao-seed-2-0-lite-260428"  # current, priced, takes images
APP_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DB = APP_DIR / "data" / "chat.db"
CACHE_MODES = ("off", "context", "responses")
THINKING_MODES = ("enabled", "disabled", "auto")
# How hard a reasoning model thinks (Ark's reasoning effort), where the model allows it.
REASONING_EFFORTS = ("minimal", "low", "medium", "high")
LANGUAGES = ("auto", *languages())  # "auto", then every catalogue in locales/
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
# The Context API documents a TTL range of one hour to seven days.
CONTEXT_TTL_RANGE = (3600, 604800)

SETTINGS = (
    "ARK_API_KEY",
    "ARK_BASE_URL",
    "ARK_MODEL",
    "ARK_CACHE",
    "ARK_THINKING",
    "ARK_TEMPERATURE",
    "ARK_MAX_TOKENS",
    "ARK_SYSTEM_PROMPT",
    "ARK_TIMEOUT",
    "ARK_MAX_RETRIES",
    "ARK_CONTEXT_TTL",
    "ARK_HISTORY_TOKENS",
    "ARK_PROVIDER",
    "ARK_CONTEXT_WINDOW",
    "ARK_PRICES",
    "CHAT_DB",
    "CHAT_BUSY_TIMEOUT",
    "CHAT_MAX_MESSAGE_CHARS",
    "CHAT_LANG",
    "CHAT_TITLES",
    "CHAT_COMMUNITY_CLOUD",
    "CHAT_USAGE_ADMINS",
)


@dataclass(frozen=True)
class Settings:
    """Resolved settings. The API key is kept out of `repr` so it never lands in a log."""

    api_key: str | None = field(default=None, repr=False)
    base_url: str = DEFAULT_BASE_URL
    model: str = DEFAULT_MODEL
    cache: str = "off"
    thinking: str = "auto"
    temperature: float | None = None
    max_tokens: int | None = None
    system_prompt: str = ""
    timeout: float = 120.0
    max_retries: int = 2
    context_ttl: int = 3600
    history_tokens: int = 32000
    # "auto" (told apart by `base_url`), "ark", or "generic" (any OpenAI-compatible server).
    provider: str = "auto"
    # The model's context window in tokens, when neither the catalogue nor the server says.
    context_window: int | None = None
    prices_path: Path | None = None
    # A SQLite path or a PostgreSQL URL, which may hold a password: kept out of `repr`.
    db: str = field(default=str(DEFAULT_DB), repr=False)
    busy_timeout: float = 5.0
    max_message_chars: int = 100_000
    lang: str = "auto"
    # Whether a chat's first answer is followed by a request for a short title.
    generated_titles: bool = True
    # Defaults of new chats that only a user's preferences set (no variable).
    reasoning_effort: str | None = None
    model_alias: str | None = None
    web_search: bool = False
    community_cloud: bool = False
    # Emails or login subjects who see every user's usage, not only their own.
    usage_admins: tuple[str, ...] = ()

    @property
    def has_key(self) -> bool:
        return bool(self.api_key)

    @property
    def provider_kind(self) -> str:
        """The server in use: `ark` or `generic` (see `chat_core.provider`)."""
        return resolve_provider(self.provider, self.base_url)

    @property
    def history_is_temporary(self) -> bool:
        """On Community Cloud a SQLite file is wiped on every reboot; PostgreSQL is kept."""
        return self.community_cloud and not is_postgres_url(self.db)

    @property
    def db_label(self) -> str:
        """`db` without its password, safe to show or log."""
        return redacted(self.db)


def load_settings(
    env: Mapping[str, str] | None = None, secrets: Mapping[str, object] | None = None
) -> Settings:
    """Build `Settings` from `env` (default `os.environ`) and then `secrets`."""
    source = _Source(os.environ if env is None else env, secrets or {})
    ttl = source.integer("ARK_CONTEXT_TTL", 3600, minimum=1)
    return Settings(
        api_key=source.text("ARK_API_KEY") or None,
        base_url=source.address("ARK_BASE_URL") or DEFAULT_BASE_URL,
        model=source.text("ARK_MODEL") or DEFAULT_MODEL,
        cache=source.choice("ARK_CACHE", CACHE_MODES, "off"),
        thinking=source.choice("ARK_THINKING", THINKING_MODES, "auto"),
        temperature=source.number("ARK_TEMPERATURE", None, minimum=0.0, maximum=2.0),
        max_tokens=source.integer("ARK_MAX_TOKENS", None, minimum=1),
        system_prompt=source.text("ARK_SYSTEM_PROMPT"),
        timeout=source.number("ARK_TIMEOUT", 120.0, minimum=1.0, maximum=3600.0),
        max_retries=source.integer("ARK_MAX_RETRIES", 2, minimum=0, maximum=10),
        context_ttl=min(max(ttl, CONTEXT_TTL_RANGE[0]), CONTEXT_TTL_RANGE[1]),
        history_tokens=source.integer("ARK_HISTORY_TOKENS", 32000, minimum=256),
        provider=source.choice("ARK_PROVIDER", PROVIDER_CHOICES, "auto"),
        context_window=source.integer("ARK_CONTEXT_WINDOW", None, minimum=256),
        prices_path=Path(source.text("ARK_PRICES")) if source.text("ARK_PRICES") else None,
        db=source.database("CHAT_DB") or str(DEFAULT_DB),
        busy_timeout=source.number("CHAT_BUSY_TIMEOUT", 5.0, minimum=0.0, maximum=600.0),
        max_message_chars=source.integer("CHAT_MAX_MESSAGE_CHARS", 100_000, minimum=1),
        lang=source.choice("CHAT_LANG", LANGUAGES, "auto"),
        generated_titles=source.flag("CHAT_TITLES", default=True),
        community_cloud=source.flag("CHAT_COMMUNITY_CLOUD", default=_served_from_cloud()),
        usage_admins=source.names("CHAT_USAGE_ADMINS"),
    )


def database_location(name: str, value: str) -> str:
    """The database setting `name` holds as `value`: a PostgreSQL URL (its scheme in
    lower case; `postgresql+psycopg://`, as SQLAlchemy writes it, read as
    `postgresql://`) or a SQLite path, without quotes around it. Any other URL, one
    with a slash missing or text before it, or a `key=value` address is refused,
    naming only its start: taken as a path it would quietly become a local SQLite file,
    its password in a folder name."""
    value = _unquoted(value.strip())
    scheme = _SCHEME.match(value)
    if scheme:  # libpq reads only a lower-case scheme
        value = scheme.group(1).lower() + value[scheme.end(1) :]
        if value.startswith("postgresql+psycopg://"):
            value = "postgresql" + value[len("postgresql+psycopg") :]
    if (scheme and not is_postgres_url(value)) or _CONNINFO.match(value):
        shown = f"{scheme.group(1)}://…" if scheme else "key=value …"
        raise ConfigError("setting_not_database", name=name, value=shown)
    if not scheme and ("://" in value or _POSTGRES_TYPO.match(value)):
        start = _URL_START.match(value)
        shown = f"{start.group(0)}…" if start else "…://…"
        raise ConfigError("setting_not_database", name=name, value=shown)
    if is_postgres_url(value):
        check_postgres_url(value)
    return value


def is_postgres_url(location: object) -> bool:
    """Whether a `CHAT_DB` value names a PostgreSQL database (else it is a SQLite path)."""
    return isinstance(location, str) and location.lower().startswith(POSTGRES_SCHEMES)


def unreadable_secrets(path: str) -> ConfigError:
    """The error for a secrets file that is there but cannot be parsed: the app must
    not go on as if there were none, since the file may configure its login."""
    return ConfigError("secrets_unreadable", path=path)


def check_postgres_url(url: str) -> None:
    """Raise `ConfigError` (never showing the URL) unless libpq reads `url` as written:
    a password with an unencoded "@" or "/" turns into part of the host, port or
    database name, which connection errors and logs would then show."""
    from psycopg.conninfo import conninfo_to_dict  # psycopg is needed only for PostgreSQL

    try:
        parts = conninfo_to_dict(url)
    except Exception:
        parts = None
    port = str((parts or {}).get("port") or "0").replace(",", "")
    if parts is None or "@" in f"{parts.get('host')}{parts.get('dbname')}" or not port.isdigit():
        raise ConfigError("setting_database_unreadable", name="CHAT_DB")


def redacted(location: str) -> str:
    """A database URL with any password replaced by `***` (a path is returned as is)."""
    location = _URL_PASSWORD.sub(r"\1***@", location)
    return _PARAM_PASSWORD.sub(r"\1***", location)


# Up to the last "@": a password typed with "@", "/" or "?" unencoded is still covered,
# and so is one in a URL with a slash missing or text before it.
_URL_PASSWORD = re.compile(r"([a-z][a-z0-9+.-]*:/{0,2}[^:/@?#]*:).*@", re.IGNORECASE | re.DOTALL)
_POSTGRES_TYPO = re.compile(r"^\W*postgres", re.IGNORECASE)
_URL_START = re.compile(r"^\W*[a-z][a-z0-9+.-]*:/*", re.IGNORECASE)
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*)://", re.IGNORECASE)
# libpq's "host=… dbname=…" form: a PostgreSQL address, but not one this app reads.
_CONNINFO = re.compile(r"^\s*(?:host|hostaddr|dbname|user|password|port)\s*=", re.IGNORECASE)
_PARAM_PASSWORD = re.compile(r"((?:^|[?&\s])password=)[^&\s]*", re.IGNORECASE)


def _unquoted(value: str) -> str:
    """`value` without one pair of quotes around it, which some env-file loaders keep."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1].strip()
    return value


def _served_from_cloud() -> bool:
    # Community Cloud checks apps out under /mount/src.
    return APP_DIR.parts[:3] == ("/", "mount", "src")


@dataclass
class _Source:
    env: Mapping[str, str]
    secrets: Mapping[str, object]

    def text(self, name: str) -> str:
        """The setting as text, without one pair of quotes around it (which some
        env-file loaders keep: a key sent with its quotes is refused)."""
        value = self.env.get(name)
        if value is None:
            value = self.secrets.get(name)
        if value is None:
            return ""
        if isinstance(value, list | tuple | dict):  # a TOML list or table in the secrets
            raise ConfigError("setting_not_text", name=name)
        return _unquoted(str(value).strip())

    def names(self, name: str) -> tuple[str, ...]:
        """A list: comma-separated text, or a list in the secrets file."""
        value = self.env.get(name)
        if value is None:
            value = self.secrets.get(name)
        if isinstance(value, dict):
            raise ConfigError("setting_not_text", name=name)
        if isinstance(value, list | tuple):
            value = ",".join(str(item) for item in value)
        # Quotes around the whole or each part (no email or subject starts with one).
        parts = (part.strip().strip("\"'").strip() for part in str(value or "").split(","))
        return tuple(part for part in parts if part)

    def database(self, name: str) -> str:
        return database_location(name, self.text(name))

    def flag(self, name: str, default: bool) -> bool:
        value = self.text(name).lower()
        if not value:
            return default
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off"):
            return False
        raise ConfigError("setting_not_flag", name=name, value=value)

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.text(name).lower() or default
        if value not in allowed:
            raise ConfigError("setting_not_choice", name=name, value=value, allowed=list(allowed))
        return value

    def number(self, name, default, *, minimum=None, maximum=None):
        raw = self.text(name)
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError("setting_not_number", name=name, value=raw) from None
        if not math.isfinite(value):  # nan and inf pass no range check: no number at all
            raise ConfigError("setting_not_number", name=name, value=raw)
        return _in_range(name, value, minimum, maximum)

    def address(self, name):
        """An http(s) URL with a host (and a port that is a number), or None when unset.
        The value is not shown in the error: it may hold a user name and password."""
        raw = self.text(name)
        if not raw:
            return None
        try:
            parts = urlsplit(raw)
            parts.port  # noqa: B018 (raises on a port that is no number)
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError("setting_not_address", name=name)
        return raw

    def integer(self, name, default, *, minimum=None, maximum=None):
        raw = self.text(name)
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError("setting_not_integer", name=name, value=raw) from None
        return _in_range(name, value, minimum, maximum)


def _in_range(name, value, minimum, maximum):
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        low = "-inf" if minimum is None else minimum
        high = "inf" if maximum is None else maximum
        raise ConfigError("setting_out_of_range", name=name, value=value, low=low, high=high)
    return value
