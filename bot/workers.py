"""Serving on more than one core: worker processes sharing the bot's port.

One process is bound to one core by Python's GIL, and a report's Send or a manager's decision is
a few milliseconds of it. `engagement-bot serve --workers N` (or WORKERS) forks N processes once
the register is migrated, each with its own event loop, register connections and HTTP clients,
each accepting on the same port (`SO_REUSEPORT`: the kernel spreads new connections between
them). On SQLite they take turns to write through the register's lock file (`storage.db`).

What must run once runs in the first worker only: the outbox sender and the scheduler. The
others wake its sender through a pipe when they queue a notification, so a manager hears of a
report as soon as from one process. The parent only watches: SIGTERM or SIGINT stops every
worker, and a worker that dies stops the rest, the parent exiting 1 so that the service manager
starts the bot again whole.
"""

import asyncio
import contextlib
import logging
import os
import secrets
import select
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import NoReturn

from aiohttp import web

from bot.config import Settings

log = logging.getLogger(__name__)

# How long the workers have to start listening before the parent gives up on them.
START_SECONDS = 60.0
_STOPS = (signal.SIGTERM, signal.SIGINT)


@dataclass(frozen=True)
class Worker:
    """What one worker process knows of the others."""

    number: int
    # The pipe that wakes the first worker's outbox sender: read there, written by the rest.
    wake_reader: int
    wake_writer: int

    @property
    def primary(self) -> bool:
        """The worker that runs the outbox sender and the scheduler."""
        return self.number == 0

    def wake_primary(self) -> None:
        """Tell the first worker's sender there is something to send (called coalesced)."""
        # A full pipe means a wake-up is already waiting to be read.
        with contextlib.suppress(BlockingIOError):
            os.write(self.wake_writer, b"!")

    def on_wake(self, kick: Callable[[], None]) -> Callable[[], None]:
        """In the first worker: call `kick` whenever another worker wakes it; returns how to stop."""
        loop = asyncio.get_running_loop()

        def readable() -> None:
            with contextlib.suppress(BlockingIOError):
                while os.read(self.wake_reader, 4096):
                    pass
            kick()

        loop.add_reader(self.wake_reader, readable)
        return lambda: loop.remove_reader(self.wake_reader)


def shared_settings(settings: Settings) -> Settings:
    """Settings every worker must hold alike. Letter links are signed with a key derived from the
    app's password; without one (local use) a random key is made per process, and a link made by
    one worker would not open on another: here it is made once, before the workers part."""
    if settings.link_signing_key or settings.app_password:
        return settings
    return replace(settings, link_signing_key=secrets.token_hex(32))


def _bind(host: str, port: int, *, shared: bool = True) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock


def serve(
    make_app: Callable[[Worker], web.Application],
    *,
    workers: int,
    host: str,
    port: int,
    on_ready: Callable[[int], None] = lambda port: None,
) -> int:
    """Run `workers` processes serving `make_app(worker)` on host:port until stopped; returns the
    exit status. `on_ready` is told the port (chosen by the system if 0) once all are listening."""
    # The port must be free: bound alone first, as a single process binds it. Otherwise a second
    # bot started by mistake on the same port (a test copy, another register) would join this
    # one's workers, SO_REUSEPORT letting it, and take a share of the council's requests.
    try:
        with _bind(host, port, shared=False) as alone:
            port = alone.getsockname()[1]
    except OSError as error:  # taken, or not an address of this machine's
        log.error("cannot listen", extra={"host": host, "port": port, "error": error.strerror})
        return 1
    # Then it is held (bound, never listening) for the whole run, so that no other program takes
    # it between the workers' binds.
    held = _bind(host, port)
    wake_reader, wake_writer = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    ready_reader, ready_writer = os.pipe2(os.O_CLOEXEC)
    parent = _Parent()
    # Before the first fork: a stop asked for while the workers start must reach them all.
    previous = {s: signal.signal(s, parent.stop) for s in _STOPS}
    try:
        for number in range(workers):
            if parent.stopping:
                break
            # Held back over the fork: the parent's handler must not run in a child, nor before
            # the parent has written the child down.
            signal.pthread_sigmask(signal.SIG_BLOCK, _STOPS)
            pid = os.fork()
            if pid == 0:
                _be_worker(make_app, Worker(number, wake_reader, wake_writer), host, port, ready_writer, held)
            parent.children[pid] = number
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPS)
        os.close(ready_writer)
        if not parent.stopping and parent.await_ready(ready_reader, workers):
            on_ready(port)
        elif not parent.stopping:
            log.error("the workers did not all start; stopping")
            parent.stop_all(failed=True)
        return parent.watch()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for fd in (wake_reader, wake_writer, ready_reader):
            with contextlib.suppress(OSError):
                os.close(fd)
        held.close()


class _Parent:
    """The parent's part: it starts nothing itself, only watches the workers and stops them."""

    def __init__(self) -> None:
        self.children: dict[int, int] = {}  # pid: worker number
        self.stopping = False
        self.status = 0

    def stop(self, signum: int = signal.SIGTERM, frame: object = None) -> None:
        self.stop_all(failed=False)

    def stop_all(self, *, failed: bool) -> None:
        self.stopping = True
        if failed:
            self.status = 1
        for pid in self.children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def await_ready(self, ready: int, workers: int) -> bool:
        """Whether every worker said it listens within START_SECONDS, none stopping first."""
        told = 0
        deadline = time.monotonic() + START_SECONDS
        while told < workers and not self.stopping:
            if self._reap(os.WNOHANG):
                return False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if select.select([ready], [], [], min(remaining, 0.1))[0]:
                told += len(os.read(ready, workers))
        return told >= workers

    def watch(self) -> int:
        """Wait for the workers to stop; one stopping unasked stops the rest."""
        while self.children:
            self._reap(0)
        return self.status

    def _reap(self, options: int) -> bool:
        """Collect a worker that stopped (waiting for one unless WNOHANG); whether one had."""
        try:
            pid, code = os.waitpid(-1, options)
        except ChildProcessError:
            self.children.clear()
            return False
        number = self.children.pop(pid, None)
        if number is None:
            return False
        if not self.stopping:
            # One worker gone leaves the port half served and, were it the first, nothing
            # sending notifications: the whole bot stops, to be started again whole.
            log.error(
                "a worker stopped unexpectedly; stopping the others",
                extra={"worker": number, "status": os.waitstatus_to_exitcode(code)},
            )
            self.stop_all(failed=True)
        return True


def _be_worker(
    make_app: Callable[[Worker], web.Application],
    worker: Worker,
    host: str,
    port: int,
    ready: int,
    held: socket.socket,
) -> NoReturn:
    """A worker's whole life, in the forked process: serve until SIGTERM or SIGINT, then exit,
    never returning into the parent's code whatever happens."""
    status = 1
    try:
        for signum in _STOPS:
            signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPS)  # a stop already asked for ends it here
        held.close()
        asyncio.run(_run_worker(make_app, worker, host, port, ready))
        status = 0
    except Exception:
        log.exception("worker stopped on an error", extra={"worker": worker.number})
    finally:
        logging.shutdown()
        os._exit(status)


async def _run_worker(
    make_app: Callable[[Worker], web.Application], worker: Worker, host: str, port: int, ready: int
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    sock = _bind(host, port)
    sock.listen(1024)
    runner = web.AppRunner(make_app(worker), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        os.write(ready, b"!")
        os.close(ready)
        await stop.wait()
    finally:
        await runner.cleanup()
        sock.close()
