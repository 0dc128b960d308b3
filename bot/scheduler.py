"""APScheduler in the bot's event loop: the sweeps that find due work in the register.

The jobs hold no state of their own; each sweep reads what is due from the database and claims
it there, so a restart or a second instance is harmless.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from dialogs import appeals, chasing, oversight, register_reports, reminders, retention, reviews
from dialogs.turn import Services
from storage import drafts

log = logging.getLogger(__name__)


# How long stopping waits for the sweeps under way to roll back and give their connections back.
STOP_SECONDS = 10.0


class Sweeps(AsyncIOScheduler):
    """The scheduler, knowing which sweeps are under way, so that stopping can wait for them."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.under_way: set[asyncio.Task[None]] = set()

    async def stop(self) -> None:
        """Cancel the sweeps under way and wait until they have stopped. Their sessions must be
        closed before the register's engine is: a connection given back to a pool already
        disposed of was closed in a task that waited for a thread already gone, and the worker
        never exited (seen about once in 20 stops in the first seconds after a start)."""
        if self.running:
            self.shutdown(wait=False)  # cancels the sweeps under way
        if self.under_way:
            await asyncio.wait(self.under_way, timeout=STOP_SECONDS)


def _guarded(
    name: str, sweep: Callable[[], Awaitable[int]], under_way: set[asyncio.Task[None]]
) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        task = asyncio.current_task()
        assert task is not None
        under_way.add(task)
        try:
            done = await sweep()
        except asyncio.CancelledError:
            # The bot is stopping (APScheduler cancels the sweeps under way): the sweep's
            # transaction rolls back and the next start sweeps again. APScheduler would log the
            # cancellation as the job failing, with a trace, on every such restart.
            log.info("sweep stopped", extra={"sweep": name, "why": "the bot is stopping"})
            return
        except Exception:
            log.exception("sweep failed", extra={"sweep": name})
            return
        finally:
            under_way.discard(task)
        if done:
            log.info("sweep done", extra={"sweep": name, "count": done})

    return run


async def _purge_drafts(services: Services) -> int:
    async with services.sessions() as session:
        gone = await drafts.purge_expired(session, now=services.clock())
        await session.commit()
    return gone


def build_scheduler(services: Services, *, every: timedelta = timedelta(minutes=5)) -> Sweeps:
    # A run that comes late (a slow start-up, a busy or suspended machine) runs late, once:
    # APScheduler's default skips any run more than a second late, so a start-up sweep could
    # wait for the next interval and the night's retention run for the next night.
    scheduler = Sweeps(timezone=services.zone, job_defaults={"misfire_grace_time": None})
    now = services.clock()
    jobs = {
        "undecided": lambda: chasing.sweep_undecided(services),
        "reviews": lambda: reviews.sweep_reviews(services),
        "expiry": lambda: reviews.sweep_expiry(services),
        "no_review": lambda: oversight.sweep_no_review(services),
        "follow_ups": lambda: reviews.sweep_follow_ups(services),
        "letters": lambda: reminders.remind_unsent_letters(services),
        "appeals": lambda: appeals.sweep_outcome_reminders(services),
        "access_report": lambda: register_reports.monthly_access_report(services),
        "drafts": lambda: _purge_drafts(services),
    }
    for name, sweep in jobs.items():
        scheduler.add_job(
            _guarded(name, sweep, scheduler.under_way),
            "interval",
            seconds=every.total_seconds(),
            id=name,
            next_run_time=now,  # at start-up too
            max_instances=1,
            coalesce=True,
        )
    # Anonymising is daily, at night in the council's time zone.
    scheduler.add_job(
        _guarded("retention", lambda: retention.run(services), scheduler.under_way),
        "cron",
        hour=2,
        minute=30,
        id="retention",
        max_instances=1,
        coalesce=True,
    )
    return scheduler
