"""The outbox sender: delivers queued notifications to Teams, with retries and back-off."""

import asyncio
import contextlib
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


class ConversationPace:
    """At most so many sends to any one conversation in each window: Teams throttles bots per
    conversation (7 a second, 8 in two, 60 in 30, 1,800 an hour), and answers 429 beyond it."""

    def __init__(
        self,
        windows: Sequence[tuple[int, float]],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._windows = [(count, seconds) for count, seconds in windows if count > 0]
        self._longest = max((seconds for _, seconds in self._windows), default=0.0)
        self._keep = max((count for count, _ in self._windows), default=0)
        self._clock = clock
        self._sleep = sleep
        self._sent: dict[str, deque[float]] = {}

    def _delay(self, stamps: deque[float], now: float) -> float:
        delay = 0.0
        for count, seconds in self._windows:
            if len(stamps) >= count:
                delay = max(delay, stamps[-count] + seconds - now)
        return delay

    async def wait(self, conversation: str, *, longest: float = 10.0) -> float:
        """Wait until one more send to this conversation stays within every window, and count it.

        Returns 0 when it may be sent now; a wait longer than `longest` is not waited out but
        returned, so the message goes back to the queue rather than holding its lease.
        """
        if not self._windows:
            return 0.0
        stamps = self._sent.setdefault(conversation, deque(maxlen=self._keep))
        while (delay := self._delay(stamps, self._clock())) > 0:
            if delay > longest:
                return delay
            await self._sleep(delay)
        stamps.append(self._clock())
        if len(self._sent) > 10_000:
            self._forget_quiet()
        return 0.0

    def _forget_quiet(self) -> None:
        # A conversation quiet for the longest window has nothing left to limit.
        now = self._clock()
        for conversation in [c for c, s in self._sent.items() if not s or now - s[-1] >= self._longest]:
            del self._sent[conversation]


@dataclass(frozen=True)
class Sweep:
    claimed: int
    delivered: int


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
        pace: ConversationPace | None = None,
        concurrency: int = 16,
        batch: int = 200,
    ) -> None:
        self._on_failure = on_failure
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
        # Each claimed message is the next in line for a different recipient, so sending several
        # at once keeps every recipient's order; Teams' answer time, not ours, is what they overlap.
        slots = asyncio.Semaphore(self._concurrency)

        async def deliver(message: OutboxMessage) -> int:
            async with slots:
                return await self._deliver(message)

        delivered = sum(await asyncio.gather(*(deliver(m) for m in claimed)))
        return Sweep(claimed=len(claimed), delivered=delivered)

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

    async def _target(self, session: AsyncSession, message: OutboxMessage) -> ConversationRef | None:
        if message.person_id is not None:
            return await conversations.personal_for(session, message.person_id)
        if message.channel_id is not None:
            return await conversations.for_channel(session, message.channel_id)
        return None

    def _backoff(self, attempts: int, retry_after: float | None) -> timedelta:
        delay = min(self._base_backoff * (2 ** min(attempts, 16)), self._max_backoff)
        if retry_after is not None:
            delay = max(delay, timedelta(seconds=retry_after))
        return delay

    async def _deliver(self, message: OutboxMessage) -> int:
        async with self._sessions() as session:
            until = self._clock() + self._lease
            if not await outbox.renew(session, message.id, held=message.claimed_until, until=until):
                return 0  # another sender holds it now
            ref = await self._target(session, message)
            address = Address(ref.service_url, ref.conversation_id) if ref else None
            replaced = await outbox.get(session, message.updates_id) if message.updates_id else None
        if message.operation in ("update", "reply") and (
            replaced is None or replaced.status == outbox.FAILED
        ):
            async with self._sessions() as session:
                await outbox.mark_failed(
                    session, message.id, error="the message to update was never delivered"
                )
            return 0
        # No transaction stays open while Teams is called: that can take seconds.
        error: Exception | None = None
        activity_id: str | None = None
        if address is not None and (later := await self._pace.wait(address.conversation_id)):
            async with self._sessions() as session:
                await outbox.mark_retry(
                    session,
                    message.id,
                    next_attempt_at=self._clock() + timedelta(seconds=later),
                    error="paced: the conversation's send limit",
                    count_attempt=False,
                )
            return 0
        if address is not None:
            try:
                root = (
                    replaced
                    if replaced is not None and replaced.sent_activity_id and replaced.sent_conversation_id
                    else None
                )
                if message.operation == "update" and root is not None:
                    target = Address(address.service_url, root.sent_conversation_id or "")
                    await self._connector.update(target, root.sent_activity_id or "", message.activity)
                    activity_id = root.sent_activity_id
                elif message.operation == "reply" and root is not None:
                    # A reply goes into the thread the first message started.
                    activity_id = await self._connector.send(
                        Address(address.service_url, root.sent_conversation_id or ""), message.activity
                    )
                elif message.channel_id is not None and ref is not None:
                    # Each notification to a channel starts a thread of its own there.
                    conversation_id, activity_id = await self._connector.start_thread(
                        address.service_url, message.channel_id, ref.tenant_id, message.activity
                    )
                    address = Address(address.service_url, conversation_id)
                else:
                    activity_id = await self._connector.send(address, message.activity)
            except (TransientDeliveryError, PermanentDeliveryError) as failure:
                error = failure
        now = self._clock()
        async with self._sessions() as session:
            if address is None:
                await outbox.mark_retry(
                    session,
                    message.id,
                    next_attempt_at=now + self._no_conversation_recheck,
                    error=outbox.NO_CONVERSATION,
                    count_attempt=False,
                )
                log.info("notification held", extra={"outbox_id": message.id, "why": "no conversation"})
                return 0
            if isinstance(error, TransientDeliveryError):
                await outbox.mark_retry(
                    session,
                    message.id,
                    next_attempt_at=now + self._backoff(message.attempts, error.retry_after),
                    error=str(error),
                )
                log.warning(
                    "notification delayed",
                    extra={
                        "outbox_id": message.id,
                        "status": error.status,
                        "attempt": message.attempts + 1,
                    },
                )
                return 0
            if isinstance(error, PermanentDeliveryError):
                await outbox.mark_failed(session, message.id, error=str(error))
                failed = await outbox.get(session, message.id)
                if self._on_failure is not None and failed is not None:
                    await self._on_failure(session, failed, now)
                    await session.commit()
                log.error("notification failed", extra={"outbox_id": message.id, "status": error.status})
                return 0
            await outbox.mark_sent(
                session,
                message.id,
                now=now,
                activity_id=activity_id,
                conversation_id=address.conversation_id,
            )
        log.info("notification sent", extra={"outbox_id": message.id, "purpose": message.purpose})
        return 1
