"""The aiohttp application: `/api/messages` for Teams, `/healthz` for whoever watches the bot."""

import asyncio
import contextlib
import gc
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from botbuilder.core import TurnContext, serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import ActivityTypes
from botframework.connector.auth import ServiceClientCredentialsFactory
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import configure_mappers

from bot import tab, teams, untrusted
from bot.auth import credentials_factory
from bot.clients import build_adapter
from bot.config import Settings
from bot.connector import AppCredentialsTokenSource, TeamsConnector, TokenSource
from bot.graph import GRAPH_SCOPE, GraphInstaller
from bot.handler import EngagementBot
from bot.proactive import ConversationPace, OutboxSender, per_worker
from bot.reach import Reacher
from bot.scheduler import build_scheduler
from bot.wire import activity_from_json
from dialogs import appeals, deliveries, review_channel, workspace_links
from dialogs.letter_files import letter_file
from dialogs.links import LinkSigner
from dialogs.turn import Clock, Services
from letters.content import LetterSettings
from policy.chasing import ChaseRules
from policy.deciding import ReviewRules
from policy.retention import RetentionRules
from storage.db import create_engine, ping, reads_of, session_factory

log = logging.getLogger(__name__)

ACTIVITY_TYPES = frozenset(t.value for t in ActivityTypes)

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)  # type: ignore[arg-type]
SERVICES = web.AppKey("services", Services)
OUTBOX = web.AppKey("outbox", OutboxSender)
REACHER = web.AppKey("reacher", Reacher)
ADAPTER = web.AppKey("adapter", CloudAdapter)
BOT = web.AppKey("bot", EngagementBot)
ENGINE = web.AppKey("engine", object)
READS = web.AppKey("reads", object)  # the engine for reads alone (`storage.db.reads_of`)


def system_clock() -> datetime:
    return datetime.now(UTC)


def _problem(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


def shape_problem(payload: Any) -> str | None:
    """Why this JSON is not an activity the bot can take, or None if it is."""
    if not isinstance(payload, dict):
        return "an activity must be a JSON object"
    kind = payload.get("type")
    if not isinstance(kind, str) or not kind:
        return "the activity has no type"
    if kind not in ACTIVITY_TYPES:
        return f"unknown activity type {kind[:40]!r}"
    service_url = payload.get("serviceUrl")
    if not isinstance(service_url, str) or not service_url.startswith(("https://", "http://")):
        return "the activity has no serviceUrl"
    if len(service_url) > 400:
        return "the serviceUrl is too long"
    for part, longest in (("conversation", 400), ("from", 200), ("recipient", 200)):
        value = payload.get(part)
        if not isinstance(value, dict) or not isinstance(value.get("id"), str) or not value["id"]:
            return f"the activity has no {part}.id"
        # The register's columns are bounded; PostgreSQL refuses what SQLite would quietly keep.
        if len(value["id"]) > longest:
            return f"the activity's {part}.id is too long"
    if not isinstance(payload.get("channelId"), str):
        return "the activity has no channelId"
    if payload.get("channelData") is not None and not isinstance(payload["channelData"], dict):
        return "channelData must be an object"
    return None


async def messages(request: web.Request) -> web.Response:
    if request.content_type != "application/json":
        return _problem(415, "send the activity as application/json")
    try:
        # A body trickled in byte by byte would otherwise hold its connection, and memory, for ever.
        body = await asyncio.wait_for(request.read(), request.app[SETTINGS].body_read_seconds)
    except web.HTTPRequestEntityTooLarge:
        log.warning("activity refused", extra={"why": "body too large"})
        return _problem(413, "the activity is too large")
    except TimeoutError:
        log.warning("activity refused", extra={"why": "body too slow"})
        response = _problem(408, "the activity took too long to arrive")
        response.force_close()
        return response
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: nesting deeper than the parser's stack allows is malformed, not a fault.
        log.warning("activity refused", extra={"why": "not JSON"})
        return _problem(400, "the body is not JSON")
    if untrusted.too_deep(payload):
        log.warning("activity refused", extra={"why": "nested too deeply"})
        return _problem(400, "the activity is nested too deeply")
    if untrusted.may_hold_unstorable(body):
        payload = untrusted.scrub(payload)
    problem = shape_problem(payload) or untrusted.envelope_problem(payload)
    if problem:
        log.warning("activity refused", extra={"why": problem})
        return _problem(400, problem)
    if not teams.from_teams(payload["channelId"]):
        log.warning("activity refused", extra={"why": "not from Teams"})
        return _problem(403, "only Microsoft Teams may talk to this bot")
    try:
        activity = activity_from_json(payload)
    except Exception:
        log.warning("activity refused", extra={"why": "not an activity"})
        return _problem(400, "the body is not a Bot Framework activity")

    app = request.app
    try:
        response = await app[ADAPTER].process_activity(
            request.headers.get("Authorization", ""), activity, app[BOT].on_turn
        )
    except PermissionError:
        log.warning("activity refused", extra={"why": "unauthorised", "type": activity.type})
        return _problem(401, "unauthorised")
    if response is not None:
        body = response.body
        if body is None:
            return web.Response(status=response.status)
        # Our own invoke answers are plain JSON; the SDK's are msrest models.
        payload = body if isinstance(body, dict | list) else serializer_helper(body)
        return web.json_response(payload, status=response.status)
    return web.Response(status=201)


async def letter_download(request: web.Request) -> web.Response:
    """A signed, short-lived link from a manager's card to a decision letter."""
    services = request.app[SERVICES]
    signer = services.links
    link = (
        signer.verify(request.match_info["letter_id"], dict(request.query), now=services.clock())
        if signer
        else None
    )
    if link is None:
        log.warning("letter link refused", extra={"why": "bad or expired signature"})
        return _problem(403, "this link is not valid or has expired: ask for a new one from the card")
    document = await letter_file(services, link)
    if document is None:
        log.warning(
            "letter link refused",
            extra={"why": "no right to this letter", "letter": link.letter_id},
        )
        return _problem(403, "you no longer have access to this letter")
    return web.Response(
        body=document.content,
        content_type=document.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{document.filename}"',
            "Cache-Control": "no-store",
        },
    )


async def healthz(request: web.Request) -> web.Response:
    try:
        await asyncio.wait_for(ping(request.app[ENGINE]), timeout=5)  # type: ignore[arg-type]
    except Exception as error:
        log.error("health check failed", extra={"error": type(error).__name__})
        return web.json_response({"status": "unavailable", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})


@web.middleware
async def request_log(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as error:
        status = error.status
        raise
    except Exception:
        log.exception("request failed", extra={"path": request.path})
        return _problem(500, "internal error")
    finally:
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": status,
                "ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )


async def _on_turn_error(turn_context: TurnContext, error: Exception) -> None:
    log.error(
        "turn failed",
        exc_info=(type(error), error, error.__traceback__),
        extra={"type": turn_context.activity.type},
    )
    if turn_context.activity.type == ActivityTypes.message:
        with contextlib.suppress(Exception):
            await turn_context.send_activity(
                "Sorry, something went wrong on my side and that was not done. Please try "
                "again; if it keeps happening, tell the register keepers."
            )


def _link_secret(settings: Settings) -> bytes:
    if settings.link_signing_key:
        return settings.link_signing_key.encode()
    if settings.app_password:
        # Every instance of one bot shares its password, so links made by one open on another.
        return hmac.new(
            settings.app_password.encode(), b"engagement-bot letter links", hashlib.sha256
        ).digest()
    return secrets.token_bytes(32)  # local use: links work on this process only


def letter_settings(settings: Settings) -> LetterSettings:
    """What letters print, from the settings; a default for each part the council left unset."""
    # Where appeals go: as the council words it, or else to the letterhead's own address and email.
    contact = settings.appeal_contact
    if not contact and settings.council_email:
        contact = f"write to us at the address at the top of this letter, or email {settings.council_email}"
    given = {
        "appeal_contact": contact,
        "template_dir": Path(settings.letter_template_dir) if settings.letter_template_dir else None,
        "logo": Path(settings.council_logo) if settings.council_logo else None,
        "data_protection_officer": settings.data_protection_officer,
        "privacy": settings.privacy_notice,
        "retention": settings.records_kept,
    }
    return LetterSettings(
        council_name=settings.council_name,
        address=settings.council_address,
        phone=settings.council_phone,
        email=settings.council_email,
        web=settings.council_web,
        crm_name=settings.crm_name,
        signed_by=settings.letters_signed_by,
        appeal_working_days=settings.appeal_working_days,
        **{name: value for name, value in given.items() if value},
    )


def build_services(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    outbox_written: Callable[[], None],
    reads: async_sessionmaker[AsyncSession] | None = None,
) -> Services:
    letters = letter_settings(settings)
    extra = {"wellbeing_support": settings.wellbeing_support} if settings.wellbeing_support else {}
    return Services(
        sessions=sessions,
        reads=reads,
        clock=clock,
        zone=settings.zone,
        outbox_written=outbox_written,
        reviews=ReviewRules(settings.review_default_months, settings.review_max_months),
        letters=letters,
        links=LinkSigner(_link_secret(settings), settings.base_url),
        holidays=settings.calendar(),
        opens=settings.opens,
        closes=settings.closes,
        review_group_channel=settings.review_group_channel or None,
        retention=RetentionRules.parse(settings.retention_years),
        appeal_outcome_working_days=settings.appeal_outcome_working_days,
        chase=ChaseRules(
            category_one_hours=settings.undecided_category_one_hours,
            working_days=settings.undecided_working_days,
        ),
        warning_months=settings.warning_window_months,
        oversight_months=settings.no_review_oversight_months,
        workspace_link=workspace_links.linker(settings.app_id, settings.base_url),
        **extra,
    )


# How long the outbox sender waits after a write before it wakes: within a burst of reports and
# decisions one sweep collects them all, instead of a sweep per invoke taking SQLite's one
# connection between invokes.
WAKE_AFTER_SECONDS = 0.2


def coalesced(kick: Callable[[], None], delay: float = WAKE_AFTER_SECONDS) -> Callable[[], None]:
    """`kick`, called once `delay` seconds after the first of any number of calls."""
    pending: asyncio.TimerHandle | None = None

    def fire() -> None:
        nonlocal pending
        pending = None
        kick()

    def call() -> None:
        nonlocal pending
        if pending is None:
            pending = asyncio.get_running_loop().call_later(delay, fire)

    return call


class Kick:
    """A callback whose target is set once what it calls exists (each of the sender and the
    services needs the other's first)."""

    def __init__(self) -> None:
        self.target: Callable[[], None] | None = None

    def __call__(self) -> None:
        if self.target is not None:
            self.target()


def _settle_memory() -> None:
    """Set aside everything made at start-up from the garbage collector's full collections.

    The modules, mappers and clients live as long as the process, yet every full collection
    walked them all: a pause of 60-80 ms that stalled every turn in flight. Mappers are
    configured first (SQLAlchemy otherwise does it at the first query), so they are set aside too.
    """
    configure_mappers()
    gc.collect()
    gc.freeze()


def _graph_installer(
    settings: Settings,
    http: aiohttp.ClientSession,
    credentials: ServiceClientCredentialsFactory,
    tokens: TokenSource | None,
) -> GraphInstaller | None:
    if not settings.graph_install:
        return None
    # Graph's token comes from the bot's own credentials (client secret or managed identity).
    tokens = tokens or AppCredentialsTokenSource(settings, credentials, scope=GRAPH_SCOPE)
    return GraphInstaller(http, tokens, base_url=settings.graph_url, catalog_id=settings.teams_app_catalog_id)


def create_app(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    run_background: bool = True,
    graph_tokens: TokenSource | None = None,
) -> web.Application:
    """The bot as an aiohttp app. Tests pass a clock and drive the outbox sender and the search
    for people to reach themselves, and may pass Graph's tokens.

    Every instance sends the outbox and runs the sweeps: each claims what it works on with an
    UPDATE only one instance can win, so several instances on one PostgreSQL never double up."""
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[request_log])
    app[SETTINGS] = settings
    app[CLOCK] = clock

    async def resources(app: web.Application) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        reads = reads_of(engine)
        sessions = session_factory(engine)
        http = aiohttp.ClientSession()
        # One set of credentials signs the bot's replies and its proactive messages alike.
        credentials = credentials_factory(settings)
        connector = TeamsConnector(http, AppCredentialsTokenSource(settings, credentials))
        kick_reacher, kick_sender = Kick(), Kick()
        services = build_services(settings, sessions, clock, coalesced(kick_sender), session_factory(reads))
        sender = OutboxSender(
            sessions,
            connector,
            clock,
            on_failure=deliveries.notify_failed,
            on_held=kick_reacher,
            # The review group's channel is read again before each appeal is posted in it.
            guard=review_channel.ChannelGuard(services, appeals.FOR_THE_GROUP_ONLY),
            pace=ConversationPace(
                settings.outbox_pace, overall=per_worker(settings.outbox_app_pace, settings.workers)
            ),
        )
        kick_sender.target = sender.kick
        adapter = build_adapter(settings, http, credentials)
        adapter.on_turn_error = _on_turn_error
        reacher = Reacher(
            sessions,
            adapter,
            connector,
            clock,
            app_id=settings.app_id,
            graph=_graph_installer(settings, http, credentials, graph_tokens),
            reached=sender.kick,
        )
        kick_reacher.target = reacher.kick
        services.channel_roster = reacher.channel_members  # who may read appeals in a channel
        app[REACHER] = reacher
        app[ENGINE] = engine
        app[READS] = reads
        app[SERVICES] = services
        app[OUTBOX] = sender
        app[ADAPTER] = adapter
        app[BOT] = EngagementBot(
            services,
            tenant_id=settings.tenant_id,
            rate_limit_per_minute=settings.rate_limit_per_minute,
            joined_team=reacher.kick,
        )
        task = reach_task = None
        scheduler = build_scheduler(services)
        if run_background:
            # Not in tests, which start an app each: a full collection each would add minutes.
            _settle_memory()
        if run_background:
            task = asyncio.create_task(sender.run_forever(settings.outbox_interval_seconds))
            reach_task = asyncio.create_task(reacher.run_forever(settings.reach_interval_seconds))
            scheduler.start()
        try:
            yield
        finally:
            await scheduler.stop()
            for running in (task, reach_task):
                if running is not None:
                    running.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await running
            await http.close()
            await reads.dispose()
            await engine.dispose()

    app.cleanup_ctx.append(resources)
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    app.router.add_get(r"/letters/{letter_id:\d+}.docx", letter_download)
    tab.setup(app, settings, services=lambda app: app[SERVICES], limiter=lambda app: app[BOT].rate_limiter)
    return app
