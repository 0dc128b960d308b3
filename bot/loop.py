"""The event loop the bot serves on: uvloop where it is installed, asyncio's own otherwise."""

import asyncio


def use_fastest() -> str:
    """Make new event loops uvloop's, if it is installed (it is not on Windows); returns which.

    uvloop runs the loop, sockets and cross-thread wake-ups (aiosqlite's answers) in C: under a
    burst of turns that is a tenth of each turn's CPU, and the same code runs on either loop.
    """
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"
