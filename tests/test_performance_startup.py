"""The bot starts without the libraries only a report or a letter needs."""

import json
import subprocess
import sys


def test_serving_loads_no_chart_pdf_or_word_library():
    # A fresh interpreter: this test process may already have them from other tests.
    probe = (
        "import sys, bot.app, bot.cli; "
        "print(sorted(m for m in ('matplotlib', 'reportlab', 'docx', 'numpy') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_a_serving_bot_sets_its_start_up_objects_aside_from_full_collections(tmp_path):
    # A full collection walked every module, mapper and client: pauses that stalled every turn.
    probe = f"""
import asyncio, gc, json
from aiohttp import web
from bot.app import create_app
from bot.config import load_settings
from storage.db import create_engine
from storage.migrate import upgrade

async def main():
    settings = load_settings({{"DATABASE_URL": "sqlite+aiosqlite:///{tmp_path / 'register.db'}"}})
    engine = create_engine(settings.database_url)
    await upgrade(engine)
    await engine.dispose()
    runner = web.AppRunner(create_app(settings))
    await runner.setup()
    print(json.dumps({{"frozen": gc.get_freeze_count(), "walked": len(gc.get_objects())}}))
    await runner.cleanup()

asyncio.run(main())
"""
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    assert counts["frozen"] > 50_000
    assert counts["walked"] < counts["frozen"] / 10
