"""The sweeps' scheduler as the serving bot runs it: late runs, failures and shutting down.

Each sweep's own behaviour (the reminders it sends, the rows it writes) is tested with the sweep
(tests/test_reviews.py and the others); these tests replace the sweeps with recorders and drive
APScheduler itself in the test's event loop.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot import scheduler as scheduling
from dialogs import appeals, chasing, oversight, register_reports, reminders, retention, reviews
from dialogs.turn import Services

SWEEPS = {
    "undecided": (chasing, "sweep_undecided"),
    "reviews": (reviews, "sweep_reviews"),
    "expiry": (reviews, "sweep_expiry"),
    "no_review": (oversight, "sweep_no_review"),
    "follow_ups": (reviews, "sweep_follow_ups"),
    "letters": (reminders, "remind_unsent_letters"),
    "appeals": (appeals, "sweep_outcome_reminders"),
    "access_report": (register_reports, "monthly_access_report"),
    "drafts": (scheduling, "_purge_drafts"),
}


class Sweeps:
    """Stands in for every sweep: records which ran, and can make one fail or hang."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ran: list[str] = []
        self.all_ran = asyncio.Event()
        self.started: dict[str, asyncio.Event] = {name: asyncio.Event() for name in SWEEPS}
        self.behaviour: dict[str, Callable[[], Awaitable[int]]] = {}
        for name, (module, attribute) in SWEEPS.items():
            monkeypatch.setattr(module, attribute, self._recorder(name))
        monkeypatch.setattr(retention, "run", self._recorder("retention"))

    def _recorder(self, name: str) -> Callable[[Services], Awaitable[int]]:
        async def sweep(services: Services) -> int:
            self.started[name].set()
            if name in self.behaviour:
                await self.behaviour[name]()
            self.ran.append(name)
            if set(SWEEPS) <= set(self.ran):
                self.all_ran.set()
            return 1

        return sweep


def _services(now: datetime) -> Services:
    return Services(sessions=None, clock=lambda: now, zone=ZoneInfo("Europe/London"))  # type: ignore[arg-type]


async def test_every_sweep_runs_at_start_up_even_when_the_start_is_slow(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The first runs are due at the moment the scheduler was built; a slow start (imports,
    # the register's connections, a busy machine) can put seconds between that and its start.
    # APScheduler's default would skip runs more than a second late, and the reminders would
    # wait for the next interval.
    sweeps = Sweeps(monkeypatch)
    built = scheduling.build_scheduler(_services(datetime.now(UTC) - timedelta(seconds=5)))
    caplog.set_level(logging.INFO)
    built.start()
    try:
        await asyncio.wait_for(sweeps.all_ran.wait(), timeout=10)
    finally:
        built.shutdown(wait=False)
    assert sorted(sweeps.ran) == sorted(SWEEPS)
    assert not [r for r in caplog.records if "missed" in r.getMessage()]


async def test_retention_runs_nightly_in_the_councils_time(monkeypatch: pytest.MonkeyPatch) -> None:
    Sweeps(monkeypatch)
    built = scheduling.build_scheduler(_services(datetime.now(UTC)))
    job = built.get_job("retention")
    assert job is not None
    # Half past two at night in London, in summer time and out of it.
    built.start(paused=True)
    try:
        for day in (datetime(2027, 1, 10, 12, tzinfo=UTC), datetime(2027, 7, 10, 12, tzinfo=UTC)):
            due = job.trigger.get_next_fire_time(None, day)
            local = due.astimezone(ZoneInfo("Europe/London"))
            assert (local.hour, local.minute) == (2, 30)
            assert local.date() == (day + timedelta(days=1)).date()
    finally:
        built.shutdown(wait=False)


async def test_a_failing_sweep_is_logged_and_the_others_still_run(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    sweeps = Sweeps(monkeypatch)

    async def broken() -> int:
        raise RuntimeError("the register is out of reach")

    sweeps.behaviour["letters"] = broken
    caplog.set_level(logging.INFO)
    built = scheduling.build_scheduler(_services(datetime.now(UTC)))
    built.start()
    try:
        for name in SWEEPS:
            await asyncio.wait_for(sweeps.started[name].wait(), timeout=10)
        await asyncio.sleep(0.05)
    finally:
        built.shutdown(wait=False)
    assert "letters" not in sweeps.ran
    assert set(sweeps.ran) == set(SWEEPS) - {"letters"}
    failed = [r for r in caplog.records if r.getMessage() == "sweep failed"]
    assert [(r.sweep, r.levelno) for r in failed] == [("letters", logging.ERROR)]  # type: ignore[attr-defined]
    # The sweep's own guard logged it; APScheduler saw a sweep that finished.
    assert not [r for r in caplog.records if r.name.startswith("apscheduler") and r.levelno >= logging.ERROR]


async def test_shutting_down_during_a_sweep_is_not_logged_as_a_failure(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A restart while a sweep is under way (a deployment just after start-up, when every sweep
    # runs) cancels it: its transaction rolls back and the next start sweeps again. Operators
    # must not be paged with an error and a trace for that.
    sweeps = Sweeps(monkeypatch)
    forever = asyncio.Event()

    async def hang() -> int:
        await forever.wait()
        return 0

    sweeps.behaviour["reviews"] = hang
    caplog.set_level(logging.INFO)
    built = scheduling.build_scheduler(_services(datetime.now(UTC)))
    built.start()
    await asyncio.wait_for(sweeps.started["reviews"].wait(), timeout=10)
    built.shutdown(wait=False)
    for _ in range(20):
        await asyncio.sleep(0.01)
    assert "reviews" not in sweeps.ran
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    stopped = [r for r in caplog.records if r.getMessage() == "sweep stopped"]
    assert [r.sweep for r in stopped] == ["reviews"]  # type: ignore[attr-defined]


async def test_stopping_waits_until_the_sweeps_under_way_have_given_their_connections_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The register's engine is disposed of straight after: a session still closing then hung
    # the bot's exit.
    sweeps = Sweeps(monkeypatch)
    closed = asyncio.Event()

    async def hang_then_close() -> int:
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0.05)  # the session's rollback and close
            closed.set()
        return 0

    sweeps.behaviour["access_report"] = hang_then_close
    built = scheduling.build_scheduler(_services(datetime.now(UTC)))
    built.start()
    await asyncio.wait_for(sweeps.started["access_report"].wait(), timeout=10)
    await built.stop()
    assert closed.is_set()
    assert not built.under_way
