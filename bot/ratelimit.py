"""A per-person limit on commands and dialogs, so one script cannot flood the register.

Each person has a bucket of `per_minute` turns that refills evenly over a minute: a person working
at human speed never meets it, a script sending thousands of reports is slowed to the refill rate,
and everyone else keeps their own bucket. The buckets live in this process: with several instances
behind a load balancer each enforces its own share, which still bounds what one person can do.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

SLOWED = (
    "You are sending requests faster than I can take them, so I have slowed you down. Nothing "
    "from that last request was done: wait a minute, then try again."
)


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    def __init__(
        self, per_minute: int, *, clock: Callable[[], float] = time.monotonic, most_people: int = 10_000
    ) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._most_people = most_people
        self._buckets: dict[str, _Bucket] = {}

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def allow(self, person: str) -> bool:
        """Take one turn from this person's bucket; False when it is empty (nothing is taken)."""
        if not self.enabled:
            return True
        now = self.clock()
        rate = self.per_minute / 60.0
        bucket = self._buckets.get(person)
        if bucket is None:
            if len(self._buckets) >= self._most_people:
                self._forget_idle(now, rate)
            bucket = self._buckets[person] = _Bucket(float(self.per_minute), now)
        else:
            bucket.tokens = min(float(self.per_minute), bucket.tokens + (now - bucket.at) * rate)
            bucket.at = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def _forget_idle(self, now: float, rate: float) -> None:
        # A full bucket holds nothing worth keeping: forgetting it gives the same answer next time.
        full = [key for key, b in self._buckets.items() if b.tokens + (now - b.at) * rate >= self.per_minute]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self._most_people:
            # Memory is bounded even under a flood of made-up ids: the oldest go first.
            for key in sorted(self._buckets, key=lambda k: self._buckets[k].at)[: self._most_people // 10]:
                del self._buckets[key]
