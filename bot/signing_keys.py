"""Bot Framework's signing keys, fetched without stopping the bot while they come.

The SDK's own key cache fetches the OpenID metadata and its keys with a blocking HTTP call and no
timeout, in the event loop: while the key server was slow every request waited, `/healthz` too,
and a forged token (an unknown key id) fetched again on each request while fetching failed. These
sets fetch with aiohttp under a timeout, one fetch at a time per set, and after a failure or a key
that was not there they wait before asking again; what was fetched before stays in use meanwhile.

They take the SDK's place through its public cache, `JwtTokenExtractor.metadataCache` (metadata URL
to key set), which every validator (Teams, the emulator, government and enterprise channels) reads.
"""

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from botframework.connector.auth import JwtTokenExtractor
from jwt.algorithms import RSAAlgorithm

log = logging.getLogger(__name__)

FETCH_SECONDS = 5.0  # the whole fetch, metadata and keys: longer is a key server in trouble
REFRESH_SECONDS = 24 * 3600.0  # keys are refreshed daily, as the SDK does
# A token naming a key the set lacks may mean the keys rolled over: ask again, but at most this
# often, so that forged key ids cannot make every request a fetch.
UNKNOWN_KEY_SECONDS = 300.0
# After a failed fetch: wait this long, doubling each failure, up to the most.
RETRY_FIRST_SECONDS = 5.0
RETRY_MOST_SECONDS = 300.0


class SigningKeyUnknown(LookupError):
    """The token names a key the set does not hold (or none could be fetched): it is refused."""


@dataclass(frozen=True)
class SigningKey:
    """What the SDK's validator reads of a key: the public key and the channels it endorses."""

    public_key: Any
    endorsements: list[str]


class KeySet:
    """One metadata URL's keys, as the SDK's validator asks for them (`await get(key_id)`)."""

    def __init__(
        self, url: str, *, timeout: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.url = url
        self.timeout = FETCH_SECONDS if timeout is None else timeout
        self.clock = clock
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at: float | None = None
        self._next_attempt = 0.0
        self._failures = 0
        self._fetching: asyncio.Task[None] | None = None
        self.fetches = 0  # attempts made, for the tests and for anyone debugging

    async def get(self, key_id: str | None) -> SigningKey:
        now = self.clock()
        stale = self._fetched_at is None or now - self._fetched_at > REFRESH_SECONDS
        if (stale or key_id not in self._keys) and now >= self._next_attempt:
            await self._refresh()
        jwk = self._keys.get(key_id or "")
        if jwk is None:
            raise SigningKeyUnknown("the token's signing key is not one Bot Framework publishes")
        return SigningKey(RSAAlgorithm.from_jwk(json.dumps(jwk)), list(jwk.get("endorsements", [])))

    async def _refresh(self) -> None:
        """One fetch at a time: requests arriving meanwhile wait for the same one."""
        running = self._fetching
        if running is None or running.done() or running.get_loop() is not asyncio.get_running_loop():
            running = self._fetching = asyncio.get_running_loop().create_task(self._fetch())
        await asyncio.shield(running)

    async def _fetch(self) -> None:
        self.fetches += 1
        try:
            keys = await asyncio.wait_for(self._download(), self.timeout)
        except Exception as error:
            self._failures += 1
            wait = min(RETRY_FIRST_SECONDS * 2 ** (self._failures - 1), RETRY_MOST_SECONDS)
            self._next_attempt = self.clock() + wait
            log.warning(
                "signing keys not fetched",
                extra={"error": type(error).__name__, "retry_in_s": wait, "kept": len(self._keys)},
            )
            return
        self._keys = keys
        self._failures = 0
        self._fetched_at = self.clock()
        self._next_attempt = self._fetched_at + UNKNOWN_KEY_SECONDS

    async def _download(self) -> dict[str, dict[str, Any]]:
        async with aiohttp.ClientSession() as http:
            async with http.get(self.url) as response:
                response.raise_for_status()
                keys_url = (await response.json(content_type=None))["jwks_uri"]
            async with http.get(keys_url) as response:
                response.raise_for_status()
                keys = (await response.json(content_type=None))["keys"]
        return {k["kid"]: k for k in keys if isinstance(k, dict) and isinstance(k.get("kid"), str)}


class KeySets(dict[str, Any]):
    """The SDK's cache of key sets by metadata URL, answering every URL with a `KeySet` of ours."""

    def get(self, url: str, default: Any = None) -> Any:  # type: ignore[override]
        found = super().get(url)
        if found is None:
            found = self[url] = KeySet(url)
        return found


def install() -> None:
    """Put these key sets in the SDK's place, once per process (its cache is a class attribute)."""
    if not isinstance(JwtTokenExtractor.metadataCache, KeySets):
        JwtTokenExtractor.metadataCache = KeySets()
