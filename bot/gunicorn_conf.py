"""gunicorn's settings for the bot in more than one process (`engagement-bot serve --workers N`
runs gunicorn with them; docs/deploy.md shows the command to run it directly).

    gunicorn -c python:bot.gunicorn_conf --workers 2 --bind 127.0.0.1:3978 bot.gunicorn_conf:app

Every process serves turns, sends the outbox and runs the sweeps: what each works on is claimed
with an UPDATE only one can win, so they never double up. They share the register on PostgreSQL;
SQLite serves one process and is refused here.
"""

import asyncio
import os
import secrets
import sys
from typing import Any

from aiohttp import web
from dotenv import find_dotenv, load_dotenv

worker_class = "aiohttp.GunicornUVLoopWebWorker"
# The bot logs JSON lines of its own, with no personal data; gunicorn's access log would add paths.
accesslog = None


def _settings() -> Any:
    from bot.config import load_settings

    load_dotenv(find_dotenv(usecwd=True), override=False)
    return load_settings()


def on_starting(server: Any) -> None:
    """In gunicorn's master, once, before any worker starts: refuse SQLite with more than one
    worker, and bring the register's schema up to date."""
    from bot.cli import migrate
    from bot.config import ConfigError, check_workers

    settings = _settings()
    try:
        check_workers(settings.database_url, server.cfg.workers)
    except ConfigError as error:
        print(f"engagement-bot: configuration error: {error}", file=sys.stderr)
        sys.exit(2)
    # Each worker reads its share of Teams' limit per app (OUTBOX_PER_APP) from WORKERS: it must
    # be the number gunicorn forks, however that was given.
    os.environ["WORKERS"] = str(server.cfg.workers)
    if not settings.link_signing_key and not settings.app_password:
        # Local use: letter links made by one worker must open on another, so they share a key.
        os.environ["LINK_SIGNING_KEY"] = secrets.token_urlsafe(32)
    asyncio.run(migrate(settings))


async def app() -> web.Application:
    """The application each worker serves (aiohttp's gunicorn worker awaits this factory)."""
    from bot import logs
    from bot.app import create_app

    settings = _settings()
    logs.configure(settings.log_level)
    return create_app(settings)
