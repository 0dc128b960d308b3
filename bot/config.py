"""Settings from the environment (and an optional `.env`), checked once at start."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from storage.db import DEFAULT_DATABASE_URL

APP_TYPES = ("MultiTenant", "SingleTenant")


class ConfigError(ValueError):
    """One line saying what is wrong, shown instead of a traceback."""


@dataclass(frozen=True)
class Settings:
    app_id: str = ""
    app_password: str = field(default="", repr=False)
    app_type: str = "MultiTenant"
    tenant_id: str = ""
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 3978
    timezone: str = "Europe/London"
    max_body_bytes: int = 512 * 1024
    # Where Bot Framework publishes its signing keys; tests and sovereign clouds point it elsewhere.
    openid_metadata_url: str = ""
    outbox_interval_seconds: float = 5.0
    log_level: str = "INFO"

    @property
    def local_only(self) -> bool:
        """No app id: requests are not authenticated, fit only for the local emulator."""
        return not self.app_id

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, not {value}")
    return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    get = lambda name, default="": env.get(name, default).strip()  # noqa: E731

    app_id = get("MICROSOFT_APP_ID")
    password = env.get("MICROSOFT_APP_PASSWORD", "")
    app_type = get("MICROSOFT_APP_TYPE") or "MultiTenant"
    tenant_id = get("MICROSOFT_APP_TENANT_ID")
    if app_type not in APP_TYPES:
        choices = " or ".join(APP_TYPES)
        raise ConfigError(f"MICROSOFT_APP_TYPE must be {choices}, not {app_type!r}")
    if app_id and not password:
        raise ConfigError("MICROSOFT_APP_PASSWORD is required when MICROSOFT_APP_ID is set")
    if password and not app_id:
        raise ConfigError("MICROSOFT_APP_ID is required when MICROSOFT_APP_PASSWORD is set")
    if app_type == "SingleTenant" and not tenant_id:
        raise ConfigError("MICROSOFT_APP_TENANT_ID is required for MICROSOFT_APP_TYPE=SingleTenant")

    database_url = get("DATABASE_URL") or DEFAULT_DATABASE_URL
    try:
        url = make_url(database_url)
    except ArgumentError:
        raise ConfigError("DATABASE_URL is not a database URL") from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError("DATABASE_URL must be sqlite+aiosqlite:// or postgresql+asyncpg://")
    if url.get_driver_name() not in ("aiosqlite", "asyncpg"):
        raise ConfigError(
            "DATABASE_URL needs an async driver: sqlite+aiosqlite:// or postgresql+asyncpg://"
        )

    timezone = get("TIMEZONE") or "Europe/London"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"TIMEZONE {timezone!r} is not a known time zone") from None

    log_level = (get("LOG_LEVEL") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {log_level!r}")

    return Settings(
        app_id=app_id,
        app_password=password,
        app_type=app_type,
        tenant_id=tenant_id,
        database_url=database_url,
        host=get("HOST") or "127.0.0.1",
        port=_int(env, "PORT", 3978, 1, 65535),
        timezone=timezone,
        max_body_bytes=_int(env, "MAX_BODY_BYTES", 512 * 1024, 16 * 1024, 16 * 1024 * 1024),
        openid_metadata_url=get("BOT_OPENID_METADATA_URL"),
        log_level=log_level,
    )
