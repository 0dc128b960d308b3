"""The bot serves on uvloop where it is installed."""

import asyncio

import uvloop

from bot.loop import use_fastest


def test_serve_runs_on_uvloop_when_it_is_installed():
    before = asyncio.get_event_loop_policy()
    try:
        assert use_fastest() == "uvloop"
        loop = asyncio.new_event_loop()
        try:
            assert isinstance(loop, uvloop.Loop)
        finally:
            loop.close()
    finally:
        asyncio.set_event_loop_policy(before)
