"""Settings from the environment (and an optional `.env`), checked once at start."""

import os
import sys
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from policy.chasing import ChaseRules
from policy.retention import RetentionRules
from storage.db import DEFAULT_DATABASE_URL

# Azure creates only single-tenant bots since July 2025; a user-assigned managed identity needs no secret.
APP_TYPES = ("SingleTenant", "UserAssignedMSI", "MultiTenant")
MANAGED_IDENTITY = "UserAssignedMSI"
TEAMS_PACE = ((7, 1.0), (8, 2.0), (60, 30.0), (1800, 3600.0))
# Teams' limit for one app across all its conversations in a tenant: 50 requests a second.
TEAMS_APP_PACE = ((50, 1.0),)


def _pace(
    raw: str, name: str = "OUTBOX_PER_CONVERSATION", default: tuple[tuple[int, float], ...] = TEAMS_PACE
) -> tuple[tuple[int, float], ...]:
    if not raw:
        return default
    if raw.lower() == "none":
        return ()
    windows = []
    for part in raw.split(","):
        try:
            count, seconds = part.strip().split("/")
            window = (int(count), float(seconds))
        except ValueError:
            raise ConfigError(f"{name} must be like 7/1,60/30, not {raw!r}") from None
        if window[0] < 1 or window[1] <= 0:
            raise ConfigError(f"{name} must be like 7/1,60/30, not {raw!r}")
        windows.append(window)
    return tuple(windows)


class ConfigError(ValueError):
    """One line saying what is wrong, shown instead of a traceback."""


@dataclass(frozen=True)
class Settings:
    app_id: str = ""
    app_password: str = field(default="", repr=False)
    app_type: str = "SingleTenant"
    tenant_id: str = ""
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 3978
    timezone: str = "Europe/London"
    max_body_bytes: int = 512 * 1024
    # The longest one request's body may take to arrive (408 after): Teams sends it at once.
    body_read_seconds: float = 10.0
    # Where Bot Framework publishes its signing keys; tests and sovereign clouds point it elsewhere.
    openid_metadata_url: str = ""
    # Where Entra publishes the tenant's signing keys for the workspace tab's SSO tokens (empty:
    # Entra's own for the tenant); tests point it at keys served on loopback.
    entra_openid_metadata_url: str = ""
    outbox_interval_seconds: float = 5.0
    log_level: str = "INFO"
    # Where Teams users' browsers reach the bot (letters are downloaded from here).
    public_url: str = ""
    link_signing_key: str = field(default="", repr=False)
    council_name: str = "The Council"
    appeal_contact: str = ""
    appeal_working_days: int = 20
    review_default_months: int = 6
    review_max_months: int = 12
    # The council's public holidays (ISO 3166-2: GB-SCT is Scotland, this policy's), plus its own
    # local days in BANK_HOLIDAYS; working days skip both.
    public_holidays: str = "GB-SCT"
    bank_holidays: frozenset[date] = frozenset()
    opens: time = time(9, 0)
    closes: time = time(17, 0)
    review_group_channel: str = ""
    retention_years: str = ""
    appeal_outcome_working_days: int = 20
    letter_template_dir: str = ""
    # The letterhead (address lines separated by "|"), and what letters say about data: unset
    # parts are left out of letters and `serve` warns once.
    council_address: str = ""
    council_phone: str = ""
    council_email: str = ""
    council_web: str = ""
    council_logo: str = ""
    crm_name: str = ""  # the council's CRM, named in letters only when set
    letters_signed_by: str = "name"  # or "role": never a name in a letter
    data_protection_officer: str = ""
    privacy_notice: str = ""
    records_kept: str = ""
    wellbeing_support: str = ""
    # At most N sends per S seconds to one conversation, for each (N, S): Teams' own limits.
    outbox_pace: tuple[tuple[int, float], ...] = TEAMS_PACE
    # At most N sends per S seconds across every conversation, shared by the workers: Teams' own.
    outbox_app_pace: tuple[tuple[int, float], ...] = TEAMS_APP_PACE
    # Commands and dialog steps one person may send a minute (0: no limit), counted by each worker.
    rate_limit_per_minute: int = 60
    # Processes serving the bot: more than one runs under gunicorn, and needs PostgreSQL.
    workers: int = 1
    # Install the app through Microsoft Graph for role holders the bot cannot reach otherwise.
    graph_install: bool = False
    teams_app_catalog_id: str = ""  # the app's id in the tenant's catalog (not the manifest's)
    graph_url: str = "https://graph.microsoft.com/v1.0"
    # How often people who hold a role but cannot be reached are looked for in the bot's teams.
    reach_interval_seconds: float = 600.0
    # Chasing an undecided incident: the managers again, then the keepers (hours for category one).
    undecided_category_one_hours: tuple[int, int] = (2, 4)
    undecided_working_days: tuple[int, int] = (2, 5)
    warning_window_months: int = 12
    no_review_oversight_months: int = 12

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def local_only(self) -> bool:
        """No app id: requests are not authenticated, fit only for the local emulator."""
        return not self.app_id

    def calendar(self) -> Collection[date]:
        """Every day that is not a working day besides weekends, for any year asked about."""
        return council_calendar(self.public_holidays, self.bank_holidays)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def council_calendar(region: str, local: Iterable[date] = ()) -> Collection[date]:
    """The public holidays of `region` ("GB-SCT", or a country code alone; "none" for none) from
    the maintained `holidays` library, which works out each year as it is asked for, with the
    council's local days added."""
    days = {day: "Local holiday" for day in local}
    if region.lower() == "none":
        return frozenset(days)
    country, _, subdivision = region.upper().partition("-")
    calendar = holidays.country_holidays(country, subdiv=subdivision or None)
    calendar.update(days)
    return calendar


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


def check_workers(database_url: str, workers: int) -> None:
    """Raise ConfigError if the bot cannot serve with this many processes."""
    if workers == 1:
        return
    if make_url(database_url).get_backend_name() == "sqlite":
        raise ConfigError(
            f"SQLite serves one process, not {workers}: for more, put the register on PostgreSQL "
            "(DATABASE_URL=postgresql+asyncpg://...)"
        )
    if sys.platform == "win32":
        raise ConfigError("more than one process runs under gunicorn, which needs Linux or macOS")


def _check_identity(app_id: str, password: str, app_type: str, tenant_id: str, link_key: str) -> None:
    """Raise ConfigError unless the bot's Entra identity settings fit together."""
    if app_type not in APP_TYPES:
        choices = ", ".join(APP_TYPES[:-1]) + f" or {APP_TYPES[-1]}"
        raise ConfigError(f"MICROSOFT_APP_TYPE must be {choices}, not {app_type!r}")
    if password and not app_id:
        raise ConfigError("MICROSOFT_APP_ID is required when MICROSOFT_APP_PASSWORD is set")
    if app_type == MANAGED_IDENTITY:
        if not app_id:
            raise ConfigError("MICROSOFT_APP_ID, the identity's client id, is required with UserAssignedMSI")
        if password:
            # The identity's tokens come from Azure; a secret kept beside it would be one to leak.
            raise ConfigError("MICROSOFT_APP_PASSWORD is not used with UserAssignedMSI: remove it")
        if not link_key:
            # Letter links are otherwise signed with a key derived from the password, shared by every
            # instance; with no password each process would make links the others refuse.
            raise ConfigError("LINK_SIGNING_KEY is required with UserAssignedMSI")
    elif app_id and not password:
        raise ConfigError("MICROSOFT_APP_PASSWORD is required when MICROSOFT_APP_ID is set")
    if app_id and not tenant_id:
        # The register is one council's: without its tenant, any organisation that installed the
        # app could use it as staff. A single-tenant or managed identity bot gets no token without it.
        raise ConfigError("MICROSOFT_APP_TENANT_ID is required when MICROSOFT_APP_ID is set")


def _graph(env: Mapping[str, str]) -> tuple[bool, str, str]:
    """GRAPH_INSTALL, TEAMS_APP_CATALOG_ID and GRAPH_URL, checked together."""
    raw = env.get("GRAPH_INSTALL", "").strip().lower()
    if raw not in ("", "on", "off"):
        raise ConfigError(f"GRAPH_INSTALL must be on or off, not {raw!r}")
    catalog_id = env.get("TEAMS_APP_CATALOG_ID", "").strip()
    if raw == "on" and not catalog_id:
        raise ConfigError("TEAMS_APP_CATALOG_ID is required with GRAPH_INSTALL=on")
    graph_url = env.get("GRAPH_URL", "").strip() or Settings.graph_url
    if not graph_url.startswith(("https://", "http://")):
        raise ConfigError("GRAPH_URL must start with https://")
    return raw == "on", catalog_id, graph_url


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    get = lambda name, default="": env.get(name, default).strip()  # noqa: E731

    app_id = get("MICROSOFT_APP_ID")
    password = env.get("MICROSOFT_APP_PASSWORD", "")
    app_type = get("MICROSOFT_APP_TYPE") or "SingleTenant"
    tenant_id = get("MICROSOFT_APP_TENANT_ID")
    link_key = env.get("LINK_SIGNING_KEY", "")
    _check_identity(app_id, password, app_type, tenant_id, link_key)

    database_url = get("DATABASE_URL") or DEFAULT_DATABASE_URL
    try:
        url = make_url(database_url)
    except ArgumentError:
        raise ConfigError("DATABASE_URL is not a database URL") from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError("DATABASE_URL must be sqlite+aiosqlite:// or postgresql+asyncpg://")
    if url.get_driver_name() not in ("aiosqlite", "asyncpg"):
        raise ConfigError("DATABASE_URL needs an async driver: sqlite+aiosqlite:// or postgresql+asyncpg://")

    workers = _int(env, "WORKERS", 1, 1, 64)

    timezone = get("TIMEZONE") or "Europe/London"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"TIMEZONE {timezone!r} is not a known time zone") from None

    log_level = (get("LOG_LEVEL") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {log_level!r}")

    local_days: set[date] = set()
    for raw in filter(None, (d.strip() for d in get("BANK_HOLIDAYS").split(","))):
        try:
            local_days.add(date.fromisoformat(raw))
        except ValueError:
            raise ConfigError(f"BANK_HOLIDAYS must list dates like 2026-12-25, not {raw!r}") from None

    region = get("PUBLIC_HOLIDAYS") or "GB-SCT"
    try:
        council_calendar(region)
    except NotImplementedError:
        raise ConfigError(
            f"PUBLIC_HOLIDAYS must be a country or region code like GB-SCT (or none), not {region!r}"
        ) from None

    public_url = get("PUBLIC_URL")
    if public_url and not public_url.startswith(("https://", "http://")):
        raise ConfigError("PUBLIC_URL must start with https://")
    if app_id and not public_url.startswith("https://"):
        # Letter links carry a decision letter's download to a browser: in the clear, anyone on the
        # way could read or reuse them. Plain http is for this machine only, with no app id.
        raise ConfigError("PUBLIC_URL must be an https:// address when MICROSOFT_APP_ID is set")
    if link_key and len(link_key) < 32:
        raise ConfigError("LINK_SIGNING_KEY must be at least 32 characters")
    template_dir = get("LETTER_TEMPLATE_DIR")
    if template_dir and not Path(template_dir).is_dir():
        raise ConfigError(f"LETTER_TEMPLATE_DIR {template_dir!r} is not a folder")
    logo = get("COUNCIL_LOGO")
    if logo and not (Path(logo).is_file() and Path(logo).suffix.lower() in (".png", ".jpg", ".jpeg")):
        raise ConfigError(f"COUNCIL_LOGO {logo!r} must be a .png or .jpg file")
    signed_by = (get("LETTERS_SIGNED_BY") or "name").lower()
    if signed_by not in ("name", "role"):
        raise ConfigError(f"LETTERS_SIGNED_BY must be name or role, not {signed_by!r}")
    hours = get("WORKING_HOURS") or "09:00-17:00"
    try:
        opens, closes = (time.fromisoformat(part.strip()) for part in hours.split("-"))
    except ValueError:
        raise ConfigError(f"WORKING_HOURS must be like 09:00-17:00, not {hours!r}") from None
    if opens >= closes:
        raise ConfigError("WORKING_HOURS must open before it closes")
    retention = get("RETENTION_YEARS")
    try:
        RetentionRules.parse(retention)
    except ValueError as error:
        raise ConfigError(
            f"RETENTION_YEARS must be like harassment=3,weapon_or_animal=10, not {error.args[0]!r}"
        ) from None
    review_default = _int(env, "REVIEW_DEFAULT_MONTHS", 6, 1, 24)
    review_max = _int(env, "REVIEW_MAX_MONTHS", 12, 1, 24)
    if review_default > review_max:
        raise ConfigError("REVIEW_DEFAULT_MONTHS cannot be more than REVIEW_MAX_MONTHS")

    graph_install, catalog_id, graph_url = _graph(env)
    chase: dict[str, tuple[int, int]] = {}
    for name, key, default in (
        ("UNDECIDED_CATEGORY_ONE_HOURS", "undecided_category_one_hours", (2, 4)),
        ("UNDECIDED_WORKING_DAYS", "undecided_working_days", (2, 5)),
    ):
        try:
            chase[key] = ChaseRules.parse(get(name), default)
        except ValueError:
            raise ConfigError(
                f"{name} must be two whole numbers, the managers' then the keepers', like "
                f"{default[0]},{default[1]}, not {get(name)!r}"
            ) from None

    return Settings(
        graph_install=graph_install,
        teams_app_catalog_id=catalog_id,
        graph_url=graph_url,
        public_url=public_url,
        link_signing_key=link_key,
        council_name=get("COUNCIL_NAME") or "The Council",
        appeal_contact=get("APPEAL_CONTACT"),
        appeal_working_days=_int(env, "APPEAL_WORKING_DAYS", 20, 5, 60),
        review_default_months=review_default,
        review_max_months=review_max,
        public_holidays=region,
        bank_holidays=frozenset(local_days),
        opens=opens,
        closes=closes,
        review_group_channel=get("REVIEW_GROUP_CHANNEL_ID"),
        retention_years=retention,
        appeal_outcome_working_days=_int(env, "APPEAL_OUTCOME_WORKING_DAYS", 20, 1, 120),
        letter_template_dir=template_dir,
        council_address="\n".join(p.strip() for p in get("COUNCIL_ADDRESS").split("|") if p.strip()),
        council_phone=get("COUNCIL_PHONE"),
        council_email=get("COUNCIL_EMAIL"),
        council_web=get("COUNCIL_WEB"),
        council_logo=logo,
        crm_name=get("CRM_NAME"),
        letters_signed_by=signed_by,
        data_protection_officer=get("DATA_PROTECTION_OFFICER"),
        privacy_notice=get("PRIVACY_NOTICE"),
        records_kept=get("RECORDS_KEPT"),
        wellbeing_support=get("WELLBEING_SUPPORT"),
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
        entra_openid_metadata_url=get("ENTRA_OPENID_METADATA_URL"),
        log_level=log_level,
        outbox_pace=_pace(get("OUTBOX_PER_CONVERSATION")),
        outbox_app_pace=_pace(get("OUTBOX_PER_APP"), "OUTBOX_PER_APP", TEAMS_APP_PACE),
        rate_limit_per_minute=_int(env, "RATE_LIMIT_PER_MINUTE", 60, 0, 100_000),
        workers=workers,
        warning_window_months=_int(env, "WARNING_WINDOW_MONTHS", 12, 1, 60),
        no_review_oversight_months=_int(env, "NO_REVIEW_OVERSIGHT_MONTHS", 12, 1, 12),
        **chase,
    )
