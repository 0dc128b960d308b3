"""Structured logs: one JSON object a line, with ids and event names, never personal data."""

import json
import logging
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else was passed with `extra=` and is logged as a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            # The exception's type and where it was raised; its message may quote user input.
            entry["error"] = record.exc_info[0].__name__
            entry["trace"] = self.formatException((record.exc_info[0], None, record.exc_info[2]))
        return json.dumps(entry, default=str)


def configure(level: str = "INFO") -> None:
    # Lines name no source file, thread or process, so no record looks them up: for the line
    # every request writes, the stack walk to find the caller cost more than the line (the
    # logging HOWTO's "Optimization" section).
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's access log prints full URLs and user agents; our own line per request suffices.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # Their debug output quotes SQL parameters and request bodies: names, emails and free text.
    for noisy in (
        "aiosqlite",
        "asyncpg",
        "sqlalchemy",
        "msrest",
        "msal",
        "urllib3",
        "botbuilder",
        "botframework",
        "apscheduler",
        "alembic",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
