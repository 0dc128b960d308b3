"""The workspace tab's routes: its page and assets, sign-in, the pages as HTML fragments, downloads,
and the card actions the page sends, answered by the same code as chat's invokes.

Sign-in is Teams SSO (`bot.entra`): every request under `/tab/api/` carries the person's Entra
token as `Authorization: Bearer`, checked on each request; no session is kept. Without an app id
(local use only) the page offers the register's people to sign in as, and the server takes
`Authorization: Local <person id>` from this machine alone, as the bot itself is unauthenticated then.
"""

import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy import select

from bot import invokes, untrusted
from bot.config import Settings
from bot.entra import EntraTokens, TokenRefused, default_metadata_url
from dialogs.turn import Actor, Services
from dialogs.workspace import common, queues, record, tools
from dialogs.workspace import incident as incident_pages
from dialogs.workspace import register as register_pages
from storage import people
from storage.models import Person
from workspace.html import Page

log = logging.getLogger(__name__)

STATIC = resources.files("workspace") / "static"
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml"}
# Teams shows a tab in a frame of its own clients (Microsoft's "Content Security Policy" guidance
# for tabs): only they may frame the page.
TEAMS_FRAME_ANCESTORS = (
    "teams.microsoft.com *.teams.microsoft.com *.teams.cloud.microsoft *.office.com "
    "*.microsoft365.com *.cloud.microsoft *.skype.com"
)
# The invokes the page may send, as Teams sends them from a card in chat.
INVOKES = ("adaptiveCard/action", "task/fetch", "task/submit")
MAX_ACTION_BYTES = 64 * 1024

Handler = Callable[[web.Request, Actor], Awaitable[web.StreamResponse]]


class TabAuth:
    """Who is asking: a person of the register, from their token (or, locally, their choice)."""

    def __init__(self, settings: Settings, services: Services, limiter: Any = None) -> None:
        self.settings = settings
        self.services = services
        self.limiter = limiter  # the bot's per-person rate limit, shared with chat
        self.tokens: EntraTokens | None = None
        if not settings.local_only:
            host = urlsplit(settings.public_url).hostname or ""
            self.tokens = EntraTokens(
                app_id=settings.app_id,
                tenant_id=settings.tenant_id,
                app_id_uri=f"api://{host}/{settings.app_id}",
                metadata_url=settings.entra_openid_metadata_url or default_metadata_url(settings.tenant_id),
            )

    def local(self, request: web.Request) -> bool:
        """Signing in by choosing a person: no app id, and a request from this machine."""
        if not self.settings.local_only or request.remote is None:
            return False
        try:
            return ipaddress.ip_address(request.remote).is_loopback
        except ValueError:
            return False

    async def actor(self, request: web.Request) -> Actor | None:
        """The signed-in person with their roles now; None when the register does not know them.
        Raises HTTPUnauthorized for a missing or bad token."""
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        credential = credential.strip()
        if scheme == "Bearer" and self.tokens is not None and credential:
            try:
                signed_in = await self.tokens.validate(credential)
            except TokenRefused as refused:
                log.warning("tab token refused", extra={"why": str(refused)})
                raise _unauthorised() from None
            async with self.services.reading() as session:
                person = await session.scalar(
                    select(Person).where(Person.aad_object_id == signed_in.object_id)
                )
                if person is None:
                    return None
                roles = await people.roles_for(session, person.id)
            return Actor(person.id, person.display_name or signed_in.name, roles)
        if scheme == "Local" and self.local(request) and credential.isdigit():
            async with self.services.reading() as session:
                person = await session.get(Person, int(credential))
                if person is None:
                    raise _unauthorised()
                roles = await people.roles_for(session, person.id)
            return Actor(person.id, person.display_name or person.email, roles)
        raise _unauthorised()


def _unauthorised() -> web.HTTPUnauthorized:
    return web.HTTPUnauthorized(
        text=json.dumps({"error": "sign in through Teams to see the register"}),
        content_type="application/json",
        headers={"WWW-Authenticate": 'Bearer realm="workspace"'},
    )


AUTH = web.AppKey("tab_auth", TabAuth)


def _services(request: web.Request) -> Services:
    return request.app[AUTH].services


def _headers(request: web.Request) -> dict[str, str]:
    local = request.app[AUTH].settings.local_only
    ancestors = "'self'" if local else f"'self' {TEAMS_FRAME_ANCESTORS}"
    return {
        "Content-Security-Policy": (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            f"connect-src 'self'; frame-ancestors {ancestors}; base-uri 'none'; form-action 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def signed_in(
    handler: Handler, *, known_only: bool = True
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        actor = await request.app[AUTH].actor(request)
        if actor is None:
            if known_only:
                return _page(request, common.unknown_person_page())
            raise _unauthorised()
        return await handler(request, actor)

    return wrapped


def _page(request: web.Request, page: Page) -> web.Response:
    return web.json_response(
        {"title": page.title, "html": str(page.body)}, status=page.status, headers=_headers(request)
    )


def _id(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not raw.isdigit() or len(raw) > 12:
        raise web.HTTPNotFound()
    return int(raw)


def _query(request: web.Request) -> dict[str, str]:
    """The query's values, bounded, without what the register cannot store (PostgreSQL refuses a
    NUL, and a lone surrogate is no text): a search for them finds nothing rather than failing."""
    return {k: untrusted.scrub(v[:200]) for k, v in request.query.items()}


# --- the page and its assets ---------------------------------------------------------------------


async def tab_page(request: web.Request) -> web.Response:
    body = (STATIC / "tab.html").read_bytes()
    return web.Response(body=body, content_type="text/html", charset="utf-8", headers=_headers(request))


async def static_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if "/" in name.replace("vendor/", "", 1) or ".." in name:
        raise web.HTTPNotFound()
    path = STATIC / name
    if not path.is_file():
        raise web.HTTPNotFound()
    suffix = "." + name.rsplit(".", 1)[-1]
    headers = {**_headers(request), "Cache-Control": "public, max-age=3600"}
    return web.Response(
        body=path.read_bytes(),
        content_type=CONTENT_TYPES.get(suffix, "application/octet-stream"),
        headers=headers,
    )


async def sign_in_options(request: web.Request) -> web.Response:
    """How the page signs in: Teams SSO, or (locally) the people to sign in as."""
    auth = request.app[AUTH]
    if not auth.local(request):
        return web.json_response({"mode": "teams", "appId": auth.settings.app_id}, headers=_headers(request))
    async with _services(request).reading() as session:
        found = (await session.scalars(select(Person).order_by(Person.display_name, Person.email))).all()
        held = await people.roles_of(session, [p.id for p in found])
    listed = [
        {
            "id": p.id,
            "name": p.display_name or p.email or f"Person {p.id}",
            "roles": common.roles_line(held[p.id]),
        }
        for p in found
    ]
    return web.json_response({"mode": "local", "people": listed}, headers=_headers(request))


# --- pages --------------------------------------------------------------------------------------


async def home(request: web.Request, actor: Actor) -> web.Response:
    return _page(request, await queues.home(_services(request), actor))


async def queue(request: web.Request, actor: Actor) -> web.Response:
    return _page(request, await queues.queue_page(_services(request), actor, request.match_info["key"][:40]))


async def register(request: web.Request, actor: Actor) -> web.Response:
    return _page(request, await register_pages.register(_services(request), actor, _query(request)))


async def customer(request: web.Request, actor: Actor) -> web.Response:
    return _page(request, await record.customer_page(_services(request), actor, _id(request, "id")))


async def incident(request: web.Request, actor: Actor) -> web.Response:
    return _page(request, await incident_pages.incident_page(_services(request), actor, _id(request, "id")))


async def tool(request: web.Request, actor: Actor) -> web.Response:
    services, name, query = _services(request), request.match_info["name"], _query(request)
    if name == "annual":
        page = await tools.annual_page(services, actor, query)
    elif name == "subject-access":
        page = await tools.subject_access_page(services, actor, query)
    elif name == "retention":
        page = await tools.retention_page(services, actor)
    elif name == "roles":
        page = await tools.roles_page(services, actor)
    elif name == "access":
        page = await tools.access_page(services, actor, query)
    else:
        raise web.HTTPNotFound()
    return _page(request, page)


# --- downloads ----------------------------------------------------------------------------------


def _file(request: web.Request, filename: str, content: bytes, content_type: str) -> web.Response:
    return web.Response(
        body=content,
        content_type=content_type.split(";")[0],
        headers={**_headers(request), "Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _refused() -> web.Response:
    return web.json_response({"error": "you do not have access to this"}, status=403)


async def letter(request: web.Request, actor: Actor) -> web.Response:
    found = await incident_pages.letter_download(
        _services(request), actor, _id(request, "id"), large=request.query.get("large") == "1"
    )
    if found is None:
        return _refused()
    return _file(request, found.filename, found.content, found.content_type)


async def annual_report(request: web.Request, actor: Actor) -> web.Response:
    fmt = request.match_info["fmt"]
    found = await tools.annual_download(_services(request), actor, request.match_info["year"], fmt)
    if found is None:
        return _refused()
    return _file(request, found.filename, found.content, found.content_type)


async def subject_access(request: web.Request, actor: Actor) -> web.Response:
    found = await tools.subject_access_pack(_services(request), actor, _id(request, "id"))
    if found is None:
        return (
            _refused()
            if not actor.roles.is_register_keeper
            else web.json_response({"error": "no such customer"}, status=404)
        )
    return _file(request, found.filename, found.content, found.content_type)


# --- actions ------------------------------------------------------------------------------------


async def action(request: web.Request, actor: Actor) -> web.Response:
    """A card's action from the page, answered exactly as chat's invoke: same rules, same checks."""
    if request.content_type != "application/json":
        return web.json_response({"error": "send the action as application/json"}, status=415)
    body = await request.read()
    if len(body) > MAX_ACTION_BYTES:
        return web.json_response({"error": "the action is too large"}, status=413)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return web.json_response({"error": "the body is not JSON"}, status=400)
    if untrusted.too_deep(payload):
        return web.json_response({"error": "the action is nested too deeply"}, status=400)
    if untrusted.may_hold_unstorable(body):
        payload = untrusted.scrub(payload)
    if (
        not isinstance(payload, dict)
        or payload.get("name") not in INVOKES
        or not isinstance(payload.get("value"), dict)
    ):
        return web.json_response({"error": "not an action the page sends"}, status=400)
    limiter = request.app[AUTH].limiter
    if limiter is not None and not limiter.allow(f"tab:{actor.person_id}"):
        return web.json_response({"error": "too many actions: wait a minute"}, status=429)
    answer = await invokes.handle(_services(request), actor, payload["name"], payload["value"])
    body_out: Any = answer.body if isinstance(answer.body, dict | list) or answer.body is None else None
    return web.json_response({"status": answer.status, "body": body_out}, headers=_headers(request))


def setup(
    app: web.Application,
    settings: Settings,
    services: Callable[[web.Application], Services],
    limiter: Callable[[web.Application], Any],
) -> None:
    """Add the tab's routes; `TabAuth` is made once the services exist (on startup, after the
    app's resources)."""

    async def start(app: web.Application) -> None:
        app[AUTH] = TabAuth(settings, services(app), limiter(app))

    app.on_startup.append(start)
    get = app.router.add_get
    get("/tab", tab_page)
    get("/tab/static/{name:.+}", static_file)
    app.router.add_get("/tab/api/sign-in", sign_in_options)
    get("/tab/api/home", signed_in(home))
    get("/tab/api/queue/{key}", signed_in(queue))
    get("/tab/api/register", signed_in(register))
    get(r"/tab/api/customer/{id}", signed_in(customer))
    get(r"/tab/api/incident/{id}", signed_in(incident))
    get("/tab/api/tools/{name}", signed_in(tool))
    get(r"/tab/api/letters/{id}.docx", signed_in(letter, known_only=False))
    get(
        r"/tab/api/reports/annual-{year:\d{4}}.{fmt:docx|pdf|csv}", signed_in(annual_report, known_only=False)
    )
    get(r"/tab/api/subject-access/{id}.zip", signed_in(subject_access, known_only=False))
    app.router.add_post("/tab/api/action", signed_in(action, known_only=False))
