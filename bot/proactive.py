"""The outbox sender: delivers queued notifications to Teams, with retries and back-off."""

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.connector import (
    Address,
    PermanentDeliveryError,
    TeamsConnector,
    TransientDeliveryError,
)
from dialogs.turn import Clock
from storage import conversations, outbox
from storage.models import ConversationRef, OutboxMessage

log = logging.getLogger(__name__)


FailureHandler = Callable[[AsyncSession, OutboxMessage, datetime], Awaitable[None]]
# Asked just before a message is posted in a channel: why it must not be (fixed words, naming no
# one; the guard has already sent it some other way), or None to post it.
ChannelGuard = Callable[[outbox.Claim], Awaitable[str | None]]


class ConversationPace:
    """At most so many sends to any one conversation in each window: Teams throttles bots per
    conversation (7 a second, 8 in two, 60 in 30, 1,800 an hour), and answers 429 beyond it;
    and, with `overall`, at most so many across all conversations (Teams: 50 a second per app)."""

    def __init__(
        self,
        windows: Sequence[tuple[int, float]],
        *,
        overall: Sequence[tuple[int, float]] = (),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._windows = [(count, seconds) for count, seconds in windows if count > 0]
        self._overall = [(count, seconds) for count, seconds in overall if count > 0]
        self._longest = max((seconds for _, seconds in self._windows), default=0.0)
        self._keep = max((count for count, _ in self._windows), default=0)
        self._clock = clock
        self._sleep = sleep
        self._sent: dict[str, deque[float]] = {}
        self._all: deque[float] = deque(maxlen=max((count for count, _ in self._overall), default=1))

    @staticmethod
    def _delay(windows: Sequence[tuple[int, float]], stamps: deque[float], now: float) -> float:
        delay = 0.0
        for count, seconds in windows:
            if len(stamps) >= count:
                delay = max(delay, stamps[-count] + seconds - now)
        return delay

    async def wait(self, conversation: str, *, longest: float = 10.0) -> float:
        """Wait until one more send to this conversation stays within every window, and count it.

        Returns 0 when it may be sent now; a wait longer than `longest` is not waited out but
        returned, so the message goes back to the queue rather than holding its lease.
        """
        if not self._windows and not self._overall:
            return 0.0
        stamps = self._sent.setdefault(conversation, deque(maxlen=self._keep or 1))
        while (delay := self._wait_for(stamps)) > 0:
            if delay > longest:
                return delay
            await self._sleep(delay)
        now = self._clock()
        if self._windows:
            stamps.append(now)
        if self._overall:
            self._all.append(now)
        if len(self._sent) > 10_000:
            self._forget_quiet()
        return 0.0

    def _wait_for(self, stamps: deque[float]) -> float:
        now = self._clock()
        return max(self._delay(self._windows, stamps, now), self._delay(self._overall, self._all, now))

    def answered(self, conversation: str) -> None:
        """The send counted by the last `wait` has been answered: count it from now instead.

        Teams counts a message when it arrives, somewhere between the request leaving and its
        answer; counting from the answer keeps every window even when the requests before it
        were slow to leave (a busy event loop) and the next one is not.
        """
        stamps = self._sent.get(conversation)
        if stamps:
            stamps[-1] = max(stamps[-1], self._clock())

    def _forget_quiet(self) -> None:
        # A conversation quiet for the longest window has nothing left to limit.
        now = self._clock()
        for conversation in [c for c, s in self._sent.items() if not s or now - s[-1] >= self._longest]:
            del self._sent[conversation]


def per_worker(windows: Sequence[tuple[int, float]], workers: int) -> list[tuple[int, float]]:
    """Each of several workers on one machine keeps to its share of the app's limit."""
    return [(max(1, count // max(1, workers)), seconds) for count, seconds in windows]


@dataclass(frozen=True)
class Sweep:
    claimed: int
    delivered: int


@dataclass
class _Reach:
    """Where the messages of one claimed batch go, read in one query each before any is sent."""

    people: dict[int, ConversationRef]
    channels: dict[str, ConversationRef]
    roots: dict[int, outbox.Root]


class _Marks:
    """Results written as sends finish, several to a transaction.

    Whatever finished while the last write was under way goes into the next one, so a message
    Teams accepted is marked about as soon as it would be on its own (the window in which a crash
    sends it again does not widen), while a busy sweep pays one commit for many messages.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._queued: list[tuple[outbox.Outcome, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def write(self, outcome: outbox.Outcome) -> None:
        done = asyncio.get_running_loop().create_future()
        self._queued.append((outcome, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_queued())
        await done

    async def _write_queued(self) -> None:
        while self._queued:
            group, self._queued = self._queued, []
            try:
                async with self._sessions() as session:
                    await outbox.record(session, [outcome for outcome, _ in group])
            except Exception as error:
                for _, done in group:
                    if not done.done():
                        done.set_exception(error)
            else:
                for _, done in group:
                    if not done.done():
                        done.set_result(None)


class OutboxSender:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        connector: TeamsConnector,
        clock: Clock,
        *,
        lease: timedelta = timedelta(minutes=2),
        base_backoff: timedelta = timedelta(seconds=5),
        max_backoff: timedelta = timedelta(minutes=5),
        no_conversation_recheck: timedelta = timedelta(hours=1),
        on_failure: FailureHandler | None = None,
        on_held: Callable[[], None] | None = None,
        guard: ChannelGuard | None = None,
        pace: ConversationPace | None = None,
        concurrency: int = 32,
        batch: int = 500,
    ) -> None:
        self._on_failure = on_failure
        self._on_held = on_held
        self._guard = guard
        self._pace = pace or ConversationPace(())
        self._concurrency = concurrency
        self._batch = batch
        self._sessions = sessions
        self._connector = connector
        self._clock = clock
        self._lease = lease
        self._base_backoff = base_backoff
        self._max_backoff = max_backoff
        self._no_conversation_recheck = no_conversation_recheck
        self._wake = asyncio.Event()

    def kick(self) -> None:
        """Something was queued: deliver now rather than at the next interval."""
        self._wake.set()

    async def run_once(self) -> Sweep:
        """Try everything that is due now, each recipient's next message in line."""
        async with self._sessions() as session:
            claimed = await outbox.claim_due(session, now=self._clock(), lease=self._lease, limit=self._batch)
        if not claimed:
            return Sweep(claimed=0, delivered=0)
        return Sweep(claimed=len(claimed), delivered=await self.deliver_claimed(claimed))

    async def deliver_claimed(self, claimed: Sequence[outbox.Claim]) -> int:
        """Send messages this sender claimed; returns how many Teams accepted."""
        async with self._sessions() as session:
            people, channels = await conversations.latest_for(
                session,
                person_ids={c.person_id for c in claimed if c.person_id is not None},
                channel_ids={c.channel_id for c in claimed if c.channel_id is not None},
            )
            roots = await outbox.roots(session, {c.updates_id for c in claimed if c.updates_id is not None})
        reach = _Reach(people, channels, roots)
        marks = _Marks(self._sessions)
        # Each claimed message is the next in line for a different recipient, so sending several
        # at once keeps every recipient's order; Teams' answer time, not ours, is what they overlap.
        slots = asyncio.Semaphore(self._concurrency)

        async def deliver(claim: outbox.Claim) -> int:
            async with slots:
                outcome = await self._attempt(claim, reach)
            if outcome is None:
                return 0  # another sender holds it now
            await marks.write(outcome)
            return await self._after(claim, outcome)

        return sum(await asyncio.gather(*(deliver(c) for c in claimed)))

    async def drain(self) -> int:
        """Sweep until nothing more is due now; returns how many were delivered."""
        delivered = 0
        while (sweep := await self.run_once()).claimed:
            delivered += sweep.delivered
        return delivered

    async def run_forever(self, interval: float) -> None:
        while True:
            try:
                await self.drain()
            except Exception:
                log.exception("outbox sweep failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)

    def _backoff(self, attempts: int, retry_after: float | None) -> timedelta:
        delay = min(self._base_backoff * (2 ** min(attempts, 16)), self._max_backoff)
        if retry_after is not None:
            delay = max(delay, timedelta(seconds=retry_after))
        return delay

    async def _still_ours(self, claim: outbox.Claim) -> bool:
        """Renew the claim just before sending unless more than half its lease is left.

        Until `claimed_until` no other sender can claim the message, so with half a lease to go
        (a minute by default, twice the longest a send may take) the send ends inside the claim
        without a write; a claim nearer its end, or past it, is renewed only if no other sender
        has taken it over meanwhile.
        """
        now = self._clock()
        if claim.claimed_until - now > self._lease / 2:
            return True
        async with self._sessions() as session:
            return await outbox.renew(session, claim.id, held=claim.claimed_until, until=now + self._lease)

    async def _attempt(self, claim: outbox.Claim, reach: _Reach) -> outbox.Outcome | None:
        """Send one claimed message and say what became of it; None if it is no longer ours."""
        ref: ConversationRef | None = None
        if claim.person_id is not None:
            ref = reach.people.get(claim.person_id)
        elif claim.channel_id is not None:
            ref = reach.channels.get(claim.channel_id)
        replaced = reach.roots.get(claim.updates_id) if claim.updates_id is not None else None
        if claim.operation in ("update", "reply") and (replaced is None or replaced.status == outbox.FAILED):
            if not await self._still_ours(claim):
                return None
            return outbox.Outcome(
                claim.id, outbox.FAILED, self._clock(), error="the message to update was never delivered"
            )
        if ref is None:
            if not await self._still_ours(claim):
                return None
            now = self._clock()
            return outbox.Outcome(
                claim.id,
                outbox.PENDING,
                now,
                error=outbox.NO_CONVERSATION,
                next_attempt_at=now + self._no_conversation_recheck,
                count_attempt=False,
            )
        if claim.channel_id is not None and self._guard is not None:
            if not await self._still_ours(claim):
                return None
            if withheld := await self._guard(claim):
                return outbox.Outcome(claim.id, outbox.FAILED, self._clock(), error=withheld)
        address = Address(ref.service_url, ref.conversation_id)
        if later := await self._pace.wait(address.conversation_id):
            now = self._clock()
            return outbox.Outcome(
                claim.id,
                outbox.PENDING,
                now,
                error="paced: the conversation's send limit",
                next_attempt_at=now + timedelta(seconds=later),
                count_attempt=False,
            )
        if not await self._still_ours(claim):
            return None
        # No transaction stays open while Teams is called: that can take seconds.
        activity_id: str | None = None
        paced = address.conversation_id
        try:
            root = (
                replaced
                if replaced is not None and replaced.sent_activity_id and replaced.sent_conversation_id
                else None
            )
            if claim.operation == "update" and root is not None:
                target = Address(address.service_url, root.sent_conversation_id or "")
                await self._connector.update(target, root.sent_activity_id or "", claim.activity)
                activity_id = root.sent_activity_id
            elif claim.operation == "reply" and root is not None:
                # A reply goes into the thread the first message started.
                activity_id = await self._connector.send(
                    Address(address.service_url, root.sent_conversation_id or ""), claim.activity
                )
            elif claim.channel_id is not None:
                # Each notification to a channel starts a thread of its own there.
                conversation_id, activity_id = await self._connector.start_thread(
                    address.service_url, claim.channel_id, ref.tenant_id, json.loads(claim.activity)
                )
                address = Address(address.service_url, conversation_id)
            else:
                activity_id = await self._connector.send(address, claim.activity)
        except TransientDeliveryError as error:
            now = self._clock()
            return outbox.Outcome(
                claim.id,
                outbox.PENDING,
                now,
                error=str(error),
                next_attempt_at=now + self._backoff(claim.attempts, error.retry_after),
                count_attempt=True,
            )
        except PermanentDeliveryError as error:
            return outbox.Outcome(claim.id, outbox.FAILED, self._clock(), error=str(error))
        finally:
            self._pace.answered(paced)
        return outbox.Outcome(
            claim.id,
            outbox.SENT,
            self._clock(),
            activity_id=activity_id,
            conversation_id=address.conversation_id,
        )

    async def _after(self, claim: outbox.Claim, outcome: outbox.Outcome) -> int:
        """Log what was recorded, and tell someone of a message that failed for good."""
        if outcome.status == outbox.SENT:
            log.info("notification sent", extra={"outbox_id": claim.id, "purpose": claim.purpose})
            return 1
        if outcome.error == outbox.NO_CONVERSATION:
            log.info("notification held", extra={"outbox_id": claim.id, "why": "no conversation"})
            if self._on_held is not None:
                self._on_held()  # someone to find in the bot's teams, or install the app for
        elif outcome.status == outbox.PENDING and outcome.count_attempt:
            log.warning(
                "notification delayed",
                extra={"outbox_id": claim.id, "error": outcome.error, "attempt": claim.attempts + 1},
            )
        elif outcome.status == outbox.FAILED:
            log.error("notification failed", extra={"outbox_id": claim.id, "error": outcome.error})
            if self._on_failure is not None:
                async with self._sessions() as session:
                    failed = await outbox.get(session, claim.id)
                    if failed is not None:
                        await self._on_failure(session, failed, outcome.at)
                        await session.commit()
        return 0
