"""The workspace tab's pages: what is waiting for each person, the register, and the keepers' tools.

Who may see what is the chat's rules, from the one table (`dialogs.permissions`) judged on facts
read from the register (`storage.case_facts`); a refusal is recorded like a card's. Queues name
incidents by reference, category and service, never the customer, so they are not views; every
page that shows a customer (the register's results, a record, an incident) is an audit event.
"""

import asyncio
import csv
import io
import tempfile
import zipfile
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from cards import appeal as appeal_cards
from cards import decision as decision_cards
from cards import records as record_cards
from cards import review as review_cards
from cards.formatting import local_date, local_time
from dialogs import finding, permissions, refusals, register_reports, subject_access
from dialogs import retention as retention_dialog
from dialogs.letter_files import LetterFile, letter_file
from dialogs.links import LIFETIME, LetterLink
from dialogs.turn import Actor, Services
from policy.appeals import ROUTE_LABELS
from policy.categories import CATEGORIES, Category
from policy.decisions import (
    DECISION_LABELS,
    RESTRICTION_LABELS,
    AppealRoute,
    DecisionKind,
    RestrictionStatus,
    RestrictionType,
)
from policy.incidents import IncidentStatus
from policy.permissions import Case, sees_case
from policy.roles import ROLE_LABELS, Role, Roles
from policy.working_days import add_working_days
from reporting import annual
from storage import audit, case_facts, decisions, export, people, statistics, workspace
from storage.models import (
    Appeal,
    Customer,
    Decision,
    Incident,
    IncidentNote,
    Letter,
    Person,
    Restriction,
    Review,
    RoleAssignment,
    ServiceArea,
)
from workspace.html import (
    Html,
    Option,
    Page,
    count_badge,
    download,
    facts,
    field,
    heading,
    join,
    link,
    para,
    route,
    section,
    table,
    tag,
)
from workspace.html import (
    select as select_field,
)

HOME_SHOWN = 5  # rows of each queue on the home page; its own page shows up to workspace.LIMIT
STATE_LABELS = {
    IncidentStatus.REPORTED.value: "Waiting for a manager's decision",
    IncidentStatus.DECIDED.value: "Decided",
}
STAGE_LABELS = {"due_soon": "Due soon", "due": "Due", "overdue": "Overdue", "escalated": "Escalated"}
ROUTE_ROLES = {
    Role.COMPLAINTS_TEAM: AppealRoute.COMPLAINTS_PROCEDURE.value,
    Role.COMPLAINTS_REVIEW_GROUP: AppealRoute.COMPLAINTS_REVIEW_GROUP.value,
    Role.CHIEF_EXECUTIVE: AppealRoute.CHIEF_EXECUTIVE.value,
}
LETTER_KIND_LABELS = {
    "decision": "Decision letter",
    "variation": "Variation letter",
    "lifted": "Restriction lifted letter",
    "reinstatement": "Reinstatement letter",
    "appeal_outcome": "Appeal outcome letter",
}
NO_ACCESS = "You do not have access to this. Only the people the policy names do."
# What the workspace's own refusals name, beside the cards' verbs.
SEARCH, ANNUAL, EXPORT, RETENTION, ROLES, ACCESS = (
    "register.search",
    "report.annual",
    "customer.exported",
    "retention.dry_run",
    "roles.viewed",
    "report.access",
)
refusals.know(SEARCH, ANNUAL, EXPORT, RETENTION, ROLES, ACCESS)


def _category(value: str) -> str:
    try:
        return CATEGORIES[Category(value)].label
    except ValueError:
        return value


def _restriction(value: str) -> str:
    try:
        return RESTRICTION_LABELS[RestrictionType(value)]
    except ValueError:
        return value


def _route(value: str) -> str:
    try:
        label = ROUTE_LABELS[AppealRoute(value)]
    except ValueError:
        return value
    return label[0].upper() + label[1:]


def is_reviewer_of_any(roles: Roles) -> bool:
    return roles.is_register_keeper or bool(roles.managed_areas)


def may_search(roles: Roles) -> bool:
    """The register: the keepers all of it, managers their own service's part."""
    return roles.is_register_keeper or bool(roles.managed_areas)


def _areas_for(actor: Actor) -> tuple[list[str] | None, int | None]:
    """The service areas whose part of the register the actor sees (None: all), and the reporter
    whose incidents are left out (a manager never sees what they reported, as in chat)."""
    if actor.roles.is_register_keeper:
        return None, None
    return sorted(actor.roles.managed_areas), actor.person_id


# --- queues --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Queue:
    key: str
    title: str
    empty: str
    allowed: Callable[[Actor], bool]
    load: Callable[["Context"], Awaitable[workspace.Listed]]
    render: Callable[["Context", list], Html]


@dataclass
class Context:
    services: Services
    actor: Actor
    session: object  # AsyncSession, read only

    @property
    def today(self) -> date:
        return self.services.today()

    def when(self, moment: datetime) -> str:
        return local_time(moment, self.services.zone)

    def day(self, moment: datetime) -> str:
        return local_date(moment.astimezone(self.services.zone).date())


def _incident_link(reference: str, incident_id: int) -> Html:
    return link(reference, route(f"/incident/{incident_id}"))


def _incidents_table(ctx: Context, rows: list, caption: str) -> Html:
    return table(
        caption,
        ("Incident", "Occurred", "Category", "Service", "State"),
        (
            (
                _incident_link(r.reference, r.id),
                ctx.day(r.occurred_at),
                _category(r.category),
                r.area_name,
                STATE_LABELS.get(r.status, r.status),
            )
            for r in rows
        ),
        empty="Nothing here.",
    )


def _restrictions_table(ctx: Context, rows: list, caption: str) -> Html:
    def stage(r: workspace.RestrictionRow) -> str:
        if r.review_due_on is None:
            return "No review"
        if r.reminder_stage == workspace.ESCALATED:
            return "Escalated to the register keepers"
        if r.review_due_on < ctx.today:
            days = (ctx.today - r.review_due_on).days
            return f"Overdue by {days} day{'s' if days != 1 else ''}"
        return "Due today" if r.review_due_on == ctx.today else "Due"

    return table(
        caption,
        ("Incident", "Restriction", "Service", "Review by", "Reviewer", "State"),
        (
            (
                _incident_link(r.reference, r.incident_id),
                _restriction(r.type),
                r.area_name,
                local_date(r.review_due_on) if r.review_due_on else "",
                r.reviewer_name or "",
                stage(r),
            )
            for r in rows
        ),
        empty="Nothing here.",
    )


def appeal_deadline(services: Services, row: workspace.AppealRow) -> date:
    """The target for the appeal's outcome: working days from when it was logged."""
    logged = row.logged_at.astimezone(services.zone).date()
    return add_working_days(logged, services.appeal_outcome_working_days, services.holidays)


def _appeals_table(ctx: Context, rows: list, caption: str) -> Html:
    def left(row: workspace.AppealRow) -> str:
        deadline = appeal_deadline(ctx.services, row)
        days = (deadline - ctx.today).days
        if days < 0:
            return f"Overdue by {-days} day{'s' if days != -1 else ''}"
        return "Due today" if days == 0 else f"{days} day{'s' if days != 1 else ''} left"

    return table(
        caption,
        ("Incident", "Heard by", "Received", "Outcome due", "Time"),
        (
            (
                _incident_link(r.reference, r.incident_id),
                _route(r.route),
                local_date(r.received_on),
                local_date(appeal_deadline(ctx.services, r)),
                left(r),
            )
            for r in rows
        ),
        empty="No open appeals.",
    )


async def _mine(ctx: Context) -> workspace.Listed:
    return await workspace.reported_by(ctx.session, ctx.actor.person_id)  # type: ignore[arg-type]


async def _to_decide(ctx: Context) -> workspace.Listed:
    return await workspace.undecided(
        ctx.session,  # type: ignore[arg-type]
        area_keys=sorted(ctx.actor.roles.managed_areas),
        not_reported_by=ctx.actor.person_id,
    )


async def _letters(ctx: Context) -> workspace.Listed:
    areas, reporter = _areas_for(ctx.actor)
    return await workspace.letters_waiting(ctx.session, area_keys=areas, not_reported_by=reporter)  # type: ignore[arg-type]


async def _follow_ups(ctx: Context) -> workspace.Listed:
    return await workspace.follow_ups(ctx.session, ctx.actor.person_id, today=ctx.today)  # type: ignore[arg-type]


async def _my_reviews(ctx: Context) -> workspace.Listed:
    # Due within the reminder's notice (14 days), or overdue.
    return await workspace.reviews_due(
        ctx.session,  # type: ignore[arg-type]
        reviewer_id=ctx.actor.person_id,
        until=ctx.today + timedelta(days=14),
    )


async def _all_reviews_overdue(ctx: Context) -> workspace.Listed:
    return await workspace.reviews_due(
        ctx.session,
        reviewer_id=None,
        until=ctx.today,
        before=ctx.today,  # type: ignore[arg-type]
    )


async def _escalated(ctx: Context) -> workspace.Listed:
    return await workspace.reviews_escalated(ctx.session, reviewer_id=None)  # type: ignore[arg-type]


async def _undecided(ctx: Context) -> workspace.Listed:
    return await workspace.undecided(ctx.session, area_keys=None)  # type: ignore[arg-type]


async def _no_review(ctx: Context) -> workspace.Listed:
    return await workspace.no_review(ctx.session)  # type: ignore[arg-type]


async def _undelivered(ctx: Context) -> workspace.Listed:
    return await workspace.undelivered(ctx.session)  # type: ignore[arg-type]


def _routes_heard(roles: Roles) -> list[str] | None:
    if roles.is_register_keeper:
        return None
    return [route_value for role, route_value in ROUTE_ROLES.items() if roles.has(role)]


async def _appeals(ctx: Context) -> workspace.Listed:
    rows = await workspace.open_appeals(ctx.session, routes=_routes_heard(ctx.actor.roles))  # type: ignore[arg-type]
    rows.sort(key=lambda r: (appeal_deadline(ctx.services, r), r.id))
    return workspace.Listed(rows[: workspace.LIMIT], len(rows))


async def _appeals_overdue(ctx: Context) -> workspace.Listed:
    rows = [
        r
        for r in await workspace.open_appeals(ctx.session, routes=None)  # type: ignore[arg-type]
        if appeal_deadline(ctx.services, r) < ctx.today
    ]
    rows.sort(key=lambda r: (appeal_deadline(ctx.services, r), r.id))
    return workspace.Listed(rows[: workspace.LIMIT], len(rows))


def _render_letters(ctx: Context, rows: list) -> Html:
    return table(
        "Letters to send or record",
        ("Incident", "Letter", "Produced"),
        (
            (
                _incident_link(r.reference, r.incident_id),
                LETTER_KIND_LABELS.get(r.kind, r.kind),
                ctx.when(r.produced_at),
            )
            for r in rows
        ),
        empty="No letters waiting.",
    )


def _render_follow_ups(ctx: Context, rows: list) -> Html:
    return table(
        "Follow-ups you set",
        ("Incident", "Follow up on", "When"),
        (
            (
                _incident_link(r.reference, r.incident_id),
                local_date(r.follow_up_on),
                "Due" if r.follow_up_on <= ctx.today else "Coming up",
            )
            for r in rows
        ),
        empty="No follow-ups coming up.",
    )


def _render_no_review(ctx: Context, rows: list) -> Html:
    return table(
        "Restrictions with no review date",
        ("Incident", "Restriction", "Service", "Why no review"),
        (
            (
                _incident_link(r.reference, r.incident_id),
                _restriction(r.type),
                r.area_name,
                r.no_review_reason or "",
            )
            for r in rows
        ),
        empty="Every restriction in force has a review date.",
    )


def _render_undelivered(ctx: Context, rows: list) -> Html:
    return table(
        "Notifications Teams did not deliver",
        ("Notification", "About", "To", "Queued", "Attempts", "Last error"),
        (
            (
                r.purpose,
                f"{r.record_type} {r.record_id}" if r.record_type else "",
                r.recipient or "",
                ctx.when(r.created_at),
                r.attempts,
                r.last_error or "",
            )
            for r in rows
        ),
        empty="Every notification was delivered.",
    )


def _keeper(actor: Actor) -> bool:
    return actor.roles.is_register_keeper


def _manager(actor: Actor) -> bool:
    return bool(actor.roles.managed_areas)


def _hears_appeals(actor: Actor) -> bool:
    return actor.roles.is_register_keeper or any(actor.roles.has(role) for role in ROUTE_ROLES)


QUEUES: dict[str, Queue] = {
    q.key: q
    for q in (
        Queue(
            "mine",
            "My incidents",
            "You have not reported any incidents.",
            lambda actor: True,
            _mine,
            lambda ctx, rows: _incidents_table(ctx, rows, "Incidents you reported"),
        ),
        Queue(
            "decide",
            "Awaiting my decision",
            "Nothing is waiting for your decision.",
            _manager,
            _to_decide,
            lambda ctx, rows: _incidents_table(ctx, rows, "Incidents awaiting your decision, oldest first"),
        ),
        Queue(
            "letters",
            "Letters to send or record",
            "No letters waiting.",
            lambda a: _manager(a) or _keeper(a),
            _letters,
            _render_letters,
        ),
        Queue(
            "follow_ups", "Follow-ups", "No follow-ups coming up.", _manager, _follow_ups, _render_follow_ups
        ),
        Queue(
            "reviews",
            "My reviews due or overdue",
            "No reviews due in the next 14 days.",
            lambda actor: is_reviewer_of_any(actor.roles),
            _my_reviews,
            lambda ctx, rows: _restrictions_table(ctx, rows, "Restrictions you review, soonest first"),
        ),
        Queue(
            "appeals",
            "Open appeals and complaints",
            "No open appeals.",
            _hears_appeals,
            _appeals,
            lambda ctx, rows: _appeals_table(ctx, rows, "Open appeals, earliest deadline first"),
        ),
        Queue(
            "undecided",
            "Undecided incidents",
            "Every incident is decided.",
            _keeper,
            _undecided,
            lambda ctx, rows: _incidents_table(ctx, rows, "Incidents waiting for a decision, oldest first"),
        ),
        Queue(
            "reviews_overdue",
            "Reviews overdue",
            "No review is overdue.",
            _keeper,
            _all_reviews_overdue,
            lambda ctx, rows: _restrictions_table(ctx, rows, "Overdue reviews, longest overdue first"),
        ),
        Queue(
            "escalated",
            "Reviews escalated",
            "No review has been escalated.",
            _keeper,
            _escalated,
            lambda ctx, rows: _restrictions_table(ctx, rows, "Reviews escalated to the register keepers"),
        ),
        Queue(
            "appeals_overdue",
            "Appeals overdue",
            "No appeal is past its deadline.",
            _keeper,
            _appeals_overdue,
            lambda ctx, rows: _appeals_table(ctx, rows, "Appeals past their deadline"),
        ),
        Queue("no_review", "No-review restrictions", "None.", _keeper, _no_review, _render_no_review),
        Queue(
            "undelivered", "Undelivered notifications", "None.", _keeper, _undelivered, _render_undelivered
        ),
    )
}


def queues_for(actor: Actor) -> list[Queue]:
    return [q for q in QUEUES.values() if q.allowed(actor)]


# --- pages -----------------------------------------------------------------------------------


def _nav(actor: Actor) -> Html:
    items = [link("Home", route("/"))]
    if may_search(actor.roles):
        items.append(link("Register", route("/register")))
    if actor.roles.is_register_keeper:
        items += [
            link("Annual report", route("/tools/annual")),
            link("Subject access", route("/tools/subject-access")),
            link("Retention", route("/tools/retention")),
            link("Roles", route("/tools/roles")),
            link("Access report", route("/tools/access")),
        ]
    return tag("nav", tag("ul", *(tag("li", i) for i in items)), aria_label="Workspace")


def _frame(actor: Actor, title: str, *body: object) -> Html:
    return join([_nav(actor), tag("h1", title, id_="page-title", tabindex="-1"), *body])


def roles_line(roles: Roles) -> str:
    held = []
    for grant in sorted(roles.grants, key=lambda g: (g.role.value, g.service_area or "")):
        label = ROLE_LABELS[grant.role]
        if grant.role is Role.MANAGER and grant.area_name:
            label = f"{label}, {grant.area_name}"
        held.append(label)
    return ", ".join(held) if held else "Member of staff"


async def home(services: Services, actor: Actor) -> Page:
    parts: list[object] = [para(f"Signed in as {actor.display_name or 'you'}: {roles_line(actor.roles)}.")]
    async with services.reading() as session:
        ctx = Context(services, actor, session)
        summary = []
        for queue in queues_for(actor):
            listed = await queue.load(ctx)
            summary.append(
                tag("li", link(queue.title, route(f"/queue/{queue.key}")), " ", count_badge(listed.total))
            )
            shown = listed.rows[:HOME_SHOWN]
            more = (
                para(link(f"See all {listed.total:,}", route(f"/queue/{queue.key}")))
                if listed.total > HOME_SHOWN
                else None
            )
            parts.append(
                section(
                    f"{queue.title} ({listed.total:,})",
                    queue.render(ctx, shown) if shown else para(queue.empty, class_="empty"),
                    more,
                    id_=f"q-{queue.key}",
                )
            )
    waiting = tag("ul", *summary, class_="summary", aria_label="What is waiting for you")
    return Page("What is waiting for you", _frame(actor, "What is waiting for you", waiting, *parts))


async def queue_page(services: Services, actor: Actor, key: str) -> Page:
    queue = QUEUES.get(key)
    if queue is None or not queue.allowed(actor):
        return _refused(actor, "Not available", status=403 if queue else 404)
    async with services.reading() as session:
        ctx = Context(services, actor, session)
        listed = await queue.load(ctx)
        body = queue.render(ctx, listed.rows) if listed.rows else para(queue.empty, class_="empty")
    shown = f"Showing {len(listed.rows):,} of {listed.total:,}." if listed.total > len(listed.rows) else None
    return Page(
        queue.title, _frame(actor, f"{queue.title} ({listed.total:,})", para(shown) if shown else None, body)
    )


def _refused(actor: Actor, title: str, *, status: int = 403, words: str = NO_ACCESS) -> Page:
    return Page(title, _frame(actor, title, para(words)), status=status)


# --- the register ----------------------------------------------------------------------------


def _date(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def filters_from(query: dict[str, str]) -> workspace.Filters:
    return workspace.Filters(
        query=(query.get("q") or "")[:200],
        service=(query.get("service") or "")[:64],
        category=(query.get("category") or "")[:10],
        state=(query.get("state") or "")[:20],
        since=_date(query.get("since")),
        until=_date(query.get("until")),
    )


async def register(services: Services, actor: Actor, query: dict[str, str]) -> Page:
    if not may_search(actor.roles):
        await refusals.record_alone(services, actor, SEARCH, record_type="customer")
        return _refused(actor, "The register")
    chosen = filters_from(query)
    try:
        page = max(0, min(int(query.get("page") or 0), 200))
    except ValueError:
        page = 0
    areas, reporter = _areas_for(actor)
    async with services.reading() as session:
        known = await workspace.areas(session)
        listed = await workspace.search(
            session,
            chosen,
            zone=services.zone,
            area_keys=areas,
            not_reported_by=reporter,
            offset=page * workspace.LIMIT,
        )
    services_shown = [
        Option(k, n) for k, n in sorted(known, key=lambda a: a[1]) if areas is None or k in areas
    ]
    form = tag(
        "form",
        field("q", "Name, reference, postcode or email", chosen.query, type_="search"),
        select_field("service", "Service", services_shown, chosen.service),
        select_field(
            "category", "Category", [Option(c.value, CATEGORIES[c].label) for c in Category], chosen.category
        ),
        select_field("state", "State", [Option(k, v) for k, v in STATE_LABELS.items()], chosen.state),
        field("since", "Occurred from", chosen.since.isoformat() if chosen.since else "", type_="date"),
        field("until", "Occurred to", chosen.until.isoformat() if chosen.until else "", type_="date"),
        tag("button", "Search", type_="submit"),
        class_="filters",
        data_route="/register",
        role="search",
        aria_label="Search the register",
    )
    rows = [
        (
            _incident_link(r.reference, r.id),
            link(r.customer_name, route(f"/customer/{r.customer_id}"))
            if not r.anonymised
            else "(anonymised)",
            local_date(r.occurred_at.astimezone(services.zone).date()),
            _category(r.category),
            r.area_name,
            STATE_LABELS.get(r.status, r.status),
        )
        for r in listed.rows
    ]
    shown_ids = sorted({r.customer_id for r in listed.rows if not r.anonymised})
    # Every customer listed is a read of the register, as the report form's search is.
    async with services.sessions() as session:
        await audit.record_many(
            session, finding.shown(actor.person_id, "customer.searched", shown_ids), now=services.clock()
        )
        await session.commit()
    pager = []
    params = {k: v for k, v in query.items() if k != "page"}
    if page > 0:
        pager.append(link("Previous page", route("/register", **params, page=page - 1)))
    if (page + 1) * workspace.LIMIT < listed.total:
        pager.append(link("Next page", route("/register", **params, page=page + 1)))
    scope = "the whole register" if areas is None else "your service's part of the register"
    results = table(
        f"{listed.total:,} incident{'s' if listed.total != 1 else ''} in {scope}, newest first",
        ("Incident", "Customer", "Occurred", "Category", "Service", "State"),
        rows,
        empty="Nothing in the register matches.",
    )
    return Page(
        "The register",
        _frame(
            actor,
            "The register",
            form,
            tag("div", results, role="region", aria_live="polite", aria_label="Results"),
            tag("p", *pager, class_="pager") if pager else None,
        ),
    )


# --- a customer's record ----------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    when: datetime
    kind: str
    text: Html


def _at(day: date, services: Services) -> datetime:
    return datetime.combine(day, datetime.min.time(), services.zone)


async def customer_page(services: Services, actor: Actor, customer_id: int) -> Page:
    async with services.sessions() as session:
        customer = await session.get(Customer, customer_id)
        facts_ = await case_facts.for_customer(session, customer.id if customer else None)
        if not await permissions.check(session, services, actor, record_cards.RECORD, facts_, customer_id):
            return _refused(actor, "Customer record")
        assert customer is not None
        areas = {a.id: a for a in (await session.scalars(select(ServiceArea))).all()}
        incidents = [
            i
            for i in await workspace.incidents_of(session, customer.id)
            if sees_case(actor.roles, actor.person_id, Case(areas[i.service_area_id].key, i.reporter_id))
        ]
        ids = [i.id for i in incidents]
        reference = {i.id: i.reference for i in incidents}
        decided = (
            list((await session.scalars(select(Decision).where(Decision.incident_id.in_(ids)))).all())
            if ids
            else []
        )
        decision_incident = {d.id: d.incident_id for d in decided}
        restrictions = (
            list(
                (
                    await session.scalars(
                        select(Restriction).where(Restriction.decision_id.in_(list(decision_incident)))
                    )
                ).all()
            )
            if decided
            else []
        )
        restriction_incident = {r.id: decision_incident[r.decision_id] for r in restrictions}
        reviews = (
            list(
                (
                    await session.scalars(
                        select(Review).where(Review.restriction_id.in_(list(restriction_incident)))
                    )
                ).all()
            )
            if restrictions
            else []
        )
        appeals = (
            list((await session.scalars(select(Appeal).where(Appeal.incident_id.in_(ids)))).all())
            if ids
            else []
        )
        appeal_ids = {a.id for a in appeals}
        letters = [
            letter
            for letter in (
                await session.scalars(select(Letter).where(Letter.customer_id == customer.id))
            ).all()
            if letter.decision_id in decision_incident or letter.appeal_id in appeal_ids
        ]
        names = await decisions.names_of(
            session, {d.decided_by_id for d in decided} | {v.reviewer_id for v in reviews}
        )
        await audit.record(
            session,
            now=services.clock(),
            actor_id=actor.person_id,
            action="customer.record_viewed",
            record_type="customer",
            record_id=customer.id,
            detail={"from": "workspace"},
        )
        await session.commit()

    def inc(incident_id: int) -> Html:
        return _incident_link(reference[incident_id], incident_id)

    events: list[Event] = []
    for i in incidents:
        events.append(
            Event(
                i.occurred_at,
                "Incident",
                join(
                    [
                        inc(i.id),
                        f": {_category(i.category)}, {areas[i.service_area_id].name}. ",
                        STATE_LABELS.get(i.status, i.status),
                        ".",
                    ]
                ),
            )
        )
    for d in decided:
        events.append(
            Event(
                d.decided_at,
                "Decision",
                join(
                    [
                        inc(d.incident_id),
                        f": {DECISION_LABELS[DecisionKind(d.kind)]}, "
                        f"by {names.get(d.decided_by_id, 'a manager')}. ",
                        d.reasons,
                    ]
                ),
            )
        )
    for r in restrictions:
        period = f"from {local_date(r.starts_on)}" + (f" to {local_date(r.ends_on)}" if r.ends_on else "")
        review = (
            f"review by {local_date(r.review_due_on)}"
            if r.review_due_on
            else f"no review: {r.no_review_reason}"
        )
        events.append(
            Event(
                _at(r.starts_on, services),
                "Restriction",
                join(
                    [
                        inc(restriction_incident[r.id]),
                        f": {_restriction(r.type)} ({r.status}), {period}; {review}.",
                    ]
                ),
            )
        )
    for v in reviews:
        events.append(
            Event(
                v.done_at,
                "Review",
                join(
                    [
                        inc(restriction_incident[v.restriction_id]),
                        f": {v.outcome}, by {names.get(v.reviewer_id, 'a reviewer')}. ",
                        v.reasons,
                    ]
                ),
            )
        )
    for a in appeals:
        events.append(
            Event(
                _at(a.received_on, services),
                "Appeal",
                join(
                    [
                        inc(a.incident_id),
                        f": to {ROUTE_LABELS[AppealRoute(a.route)]}, "
                        f"received {local_date(a.received_on)}; {a.status}.",
                    ]
                ),
            )
        )
        if a.outcome_at is not None:
            events.append(
                Event(
                    a.outcome_at,
                    "Appeal outcome",
                    join([inc(a.incident_id), f": {a.outcome}. ", a.outcome_reasons or ""]),
                )
            )
    for letter in letters:
        state = (
            f"sent {local_date(letter.sent_on)}"
            if letter.sent_on
            else f"not appropriate: {letter.not_appropriate_reason}"
            if letter.not_appropriate_reason
            else "not yet sent"
        )
        events.append(
            Event(
                letter.produced_at,
                "Letter",
                join(
                    [
                        f"{LETTER_KIND_LABELS.get(letter.kind, letter.kind)}, {state}. ",
                        download("Download (Word)", f"/tab/api/letters/{letter.id}.docx"),
                        " ",
                        download("Large print", f"/tab/api/letters/{letter.id}.docx?large=1"),
                    ]
                ),
            )
        )
    events.sort(key=lambda e: e.when)
    timeline = tag(
        "ol",
        *(
            tag(
                "li",
                tag("time", local_time(e.when, services.zone), datetime=e.when.isoformat()),
                " ",
                tag("strong", e.kind),
                " ",
                e.text,
            )
            for e in reversed(events)
        ),
        class_="timeline",
        aria_label="Timeline, newest first",
    )
    anonymised = customer.anonymised_at is not None
    details = facts(
        [
            ("Name", "(anonymised)" if anonymised else customer.name),
            ("Customer reference", customer.customer_reference),
            ("Email", customer.email),
            ("Phone", customer.phone),
            ("Address", customer.address),
            ("Postcode", customer.postcode),
            ("Support needs and adjustments", customer.support_needs),
            ("Advocate or representative", customer.advocate),
        ]
    )
    in_force = [r for r in restrictions if r.status == RestrictionStatus.ACTIVE.value]
    tools = (
        para(download("Subject access pack (JSON and Word)", f"/tab/api/subject-access/{customer.id}.zip"))
        if actor.roles.is_register_keeper
        else None
    )
    title = "Customer record" if anonymised else f"{customer.name}: customer record"
    return Page(
        title,
        _frame(
            actor,
            title,
            details,
            para(f"{len(incidents)} incident(s) you may see; {len(in_force)} restriction(s) in force."),
            tools,
            section(
                "Timeline", timeline if events else para("Nothing recorded.", class_="empty"), id_="timeline"
            ),
        ),
    )


# --- an incident's page -----------------------------------------------------------------------


@dataclass(frozen=True)
class CardRef:
    """A card the viewer may act on, fetched by the page as chat fetches it (`adaptiveCard/action`)."""

    title: str
    verb: str
    data: dict[str, int]


async def incident_page(services: Services, actor: Actor, incident_id: int) -> Page:
    async with services.reading() as session:
        incident = await session.get(Incident, incident_id)
        if incident is None:
            facts_ = None
        else:
            facts_ = await case_facts.for_incident(session, incident.id)
        decides = bool(facts_ and permissions.judge(decision_cards.REFRESH, actor, facts_))
        appeals = (
            list(
                (
                    await session.scalars(
                        select(Appeal).where(Appeal.incident_id == incident_id).order_by(Appeal.id)
                    )
                ).all()
            )
            if incident
            else []
        )
        seen_appeals = []
        for a in appeals:
            if permissions.judge(appeal_cards.REFRESH, actor, await case_facts.for_appeal(session, a)):
                seen_appeals.append(a)
        reporter_only = incident is not None and incident.reporter_id == actor.person_id and not decides
    if incident is None or not (decides or seen_appeals or reporter_only):
        await refusals.record_alone(
            services, actor, decision_cards.REFRESH, record_type="incident", record_id=incident_id
        )
        return _refused(actor, "Incident")
    if reporter_only and not seen_appeals:
        return await _reporters_page(services, actor, incident)
    return await _full_incident(services, actor, incident, decides, seen_appeals)


async def _reporters_page(services: Services, actor: Actor, incident: Incident) -> Page:
    """The reporter's own view: where their report stands, nothing about the customer."""
    async with services.reading() as session:
        area = await session.get(ServiceArea, incident.service_area_id)
        decision = await decisions.first_for(session, incident.id)
    title = f"{incident.reference}: your report"
    return Page(
        title,
        _frame(
            actor,
            title,
            facts(
                [
                    ("Occurred", local_time(incident.occurred_at, services.zone)),
                    ("Reported", local_time(incident.reported_at, services.zone)),
                    ("Category", _category(incident.category)),
                    ("Service", area.name if area else ""),
                    ("State", STATE_LABELS.get(incident.status, incident.status)),
                    ("Decision", DECISION_LABELS[DecisionKind(decision.kind)] if decision else None),
                ]
            ),
            para(services.wellbeing_support, class_="hint"),
        ),
    )


async def _full_incident(
    services: Services, actor: Actor, incident: Incident, decides: bool, appeals: list[Appeal]
) -> Page:
    async with services.sessions() as session:
        area = await session.get(ServiceArea, incident.service_area_id)
        customer = await session.get(Customer, incident.customer_id)
        reporter = await decisions.name_of(session, incident.reporter_id)
        notes = (
            await session.scalars(
                select(IncidentNote)
                .where(IncidentNote.incident_id == incident.id)
                .order_by(IncidentNote.added_at)
            )
        ).all()
        decided = (
            await session.scalars(
                select(Decision).where(Decision.incident_id == incident.id).order_by(Decision.decided_at)
            )
        ).all()
        restrictions = (
            (
                await session.scalars(
                    select(Restriction)
                    .where(Restriction.decision_id.in_([d.id for d in decided]))
                    .order_by(Restriction.id)
                )
            ).all()
            if decided
            else []
        )
        letters = (
            (
                await session.scalars(
                    select(Letter).where(Letter.decision_id.in_([d.id for d in decided])).order_by(Letter.id)
                )
            ).all()
            if decided
            else []
        )
        opens_record = bool(
            permissions.judge(
                record_cards.RECORD, actor, await case_facts.for_customer(session, incident.customer_id)
            )
        )
        reviewable = []
        for r in restrictions:
            if r.status == RestrictionStatus.ACTIVE.value and permissions.judge(
                review_cards.REFRESH, actor, await case_facts.for_restriction(session, r)
            ):
                reviewable.append(r)
        names = await decisions.names_of(session, {d.decided_by_id for d in decided})
        await audit.record(
            session,
            now=services.clock(),
            actor_id=actor.person_id,
            action="incident.viewed",
            record_type="incident",
            record_id=incident.id,
            detail={"from": "workspace"},
        )
        await session.commit()
    anonymised = customer is None or customer.anonymised_at is not None
    who = "(anonymised)" if anonymised else customer.name  # type: ignore[union-attr]
    summary = facts(
        [
            (
                "Customer",
                link(who, route(f"/customer/{incident.customer_id}"))
                if opens_record and not anonymised
                else who,
            ),
            ("Occurred", local_time(incident.occurred_at, services.zone)),
            ("Reported", f"{local_time(incident.reported_at, services.zone)} by {reporter}"),
            ("Service", area.name if area else ""),
            ("Category", _category(incident.category)),
            ("State", STATE_LABELS.get(incident.status, incident.status)),
            ("What happened", incident.description),
            ("Impact on staff", incident.impact_on_staff),
            ("Impact on the service", incident.impact_on_service),
            ("Police reference", incident.police_reference),
        ]
    )
    cards_: list[CardRef] = []
    if decides:
        cards_.append(CardRef("The managers' card", decision_cards.REFRESH, {"incident": incident.id}))
    cards_ += [
        CardRef(f"Review: {_restriction(r.type)}", review_cards.REFRESH, {"restriction": r.id})
        for r in reviewable
    ]
    cards_ += [
        CardRef(f"Appeal to {ROUTE_LABELS[AppealRoute(a.route)]}", appeal_cards.REFRESH, {"appeal": a.id})
        for a in appeals
    ]
    actions = tag(
        "div",
        *(
            tag(
                "div",
                heading(c.title, 3),
                tag("div", para("Loading…"), class_="card-host"),
                class_="card-slot",
                data_verb=c.verb,
                data_card=_json(c.data),
            )
            for c in cards_
        ),
        class_="actions",
    )
    lines = [
        f"{DECISION_LABELS[DecisionKind(d.kind)]} by {names.get(d.decided_by_id, 'a manager')}, "
        f"{local_time(d.decided_at, services.zone)}: {d.reasons}"
        for d in decided
    ]
    restriction_lines = [
        f"{_restriction(r.type)} ({r.status}) from {local_date(r.starts_on)}"
        + (f" to {local_date(r.ends_on)}" if r.ends_on else "")
        + (
            f"; review by {local_date(r.review_due_on)}"
            if r.review_due_on
            else f"; no review: {r.no_review_reason}"
        )
        for r in restrictions
    ]
    letter_items = [
        tag(
            "li",
            f"{LETTER_KIND_LABELS.get(letter.kind, letter.kind)}: "
            + (
                f"sent {local_date(letter.sent_on)}"
                if letter.sent_on
                else f"not appropriate: {letter.not_appropriate_reason}"
                if letter.not_appropriate_reason
                else "not yet sent"
            )
            + ". ",
            download("Download (Word)", f"/tab/api/letters/{letter.id}.docx") if decides else None,
        )
        for letter in letters
    ]
    title = f"Incident {incident.reference}"
    return Page(
        title,
        _frame(
            actor,
            title,
            summary,
            section(
                "What you can do",
                actions if cards_ else para("Nothing for you to do on this incident.", class_="empty"),
                id_="actions",
            ),
            section(
                "Decision",
                tag("ul", *(tag("li", line) for line in lines))
                if lines
                else para("Not decided yet.", class_="empty"),
                id_="decision",
            ),
            section(
                "Restrictions",
                tag("ul", *(tag("li", line) for line in restriction_lines))
                if restriction_lines
                else para("None.", class_="empty"),
                id_="restrictions",
            ),
            section(
                "Letters",
                tag("ul", *letter_items) if letter_items else para("None.", class_="empty"),
                id_="letters",
            ),
            section(
                "Information added later",
                tag("ul", *(tag("li", f"{local_time(n.added_at, services.zone)}: {n.text}") for n in notes))
                if notes
                else para("None.", class_="empty"),
                id_="notes",
            ),
        ),
    )


def _json(data: dict[str, int]) -> str:
    import json

    return json.dumps(data, separators=(",", ":"))


async def letter_download(
    services: Services, actor: Actor, letter_id: int, *, large: bool
) -> LetterFile | None:
    """A letter, by the same rules and audit as the card's signed link."""
    link_ = LetterLink(letter_id, actor.person_id, large, int((services.clock() + LIFETIME).timestamp()))
    found = await letter_file(services, link_)
    if found is None:
        await refusals.record_alone(
            services, actor, decision_cards.LETTER_LINK, record_type="letter", record_id=letter_id
        )
    return found


# --- the keepers' tools ------------------------------------------------------------------------


async def _keepers_only(services: Services, actor: Actor, attempted: str) -> Page | None:
    if actor.roles.is_register_keeper:
        return None
    await refusals.record_alone(services, actor, attempted, record_type="report")
    return _refused(actor, "Register keepers only", words="Only the register keepers may use this.")


async def _note(
    services: Services,
    actor: Actor,
    action: str,
    record_type: str,
    record_id: object,
    detail: dict | None = None,
) -> None:
    async with services.sessions() as session:
        await audit.record(
            session,
            now=services.clock(),
            actor_id=actor.person_id,
            action=action,
            record_type=record_type,
            record_id=record_id,  # type: ignore[arg-type]
            detail=detail,
        )
        await session.commit()


def _year(raw: str | None, today: date) -> int:
    try:
        year = int(raw) if raw else today.year
    except ValueError:
        return today.year
    return year if 2000 <= year <= today.year else today.year


async def annual_page(services: Services, actor: Actor, query: dict[str, str]) -> Page:
    refused = await _keepers_only(services, actor, ANNUAL)
    if refused:
        return refused
    today = services.today()
    year = _year(query.get("year"), today)
    found = await register_reports.figures(services, year)
    years = [Option(str(y), str(y)) for y in range(today.year, today.year - 6, -1)]
    chooser = tag(
        "form",
        select_field("year", "Year", years, str(year)),
        tag("button", "Show", type_="submit"),
        data_route="/tools/annual",
        class_="filters",
    )
    downloads = para(
        download("Word", f"/tab/api/reports/annual-{year}.docx"),
        " · ",
        download("PDF", f"/tab/api/reports/annual-{year}.pdf"),
        " · ",
        download("CSV", f"/tab/api/reports/annual-{year}.csv"),
    )
    tables = [
        table(
            "Summary",
            ("Measure", "Value"),
            ((k, annual.shown(v)) for k, v in found.headline.items()),
            empty="None.",
        )
    ]
    for t in found.tables:
        tables.append(
            table(t.title, t.headers, ((str(r[0]), annual.shown(r[1])) for r in t.rows), empty="None.")
        )
    title = f"Annual report {year}"
    return Page(
        title, _frame(actor, title, chooser, para("Counts from 1 to 4 are shown as <5."), downloads, *tables)
    )


def annual_docx(figures: statistics.Figures, council: str, made: datetime) -> bytes:
    from docx import Document  # loaded for a report, not with the bot

    document = Document()
    document.add_heading(f"{council}: Managing Customer Engagement, annual report {figures.year}", level=0)
    document.add_paragraph(
        f"Produced {made:%d %B %Y} from the restricted-access register. Counts from 1 to 4 are shown as <5 "
        "so that no person can be identified."
    )
    sections = [("Summary", ("Measure", "Value"), [(k, v) for k, v in figures.headline.items()])]
    sections += [(t.title, t.headers, t.rows) for t in figures.tables]
    for title, headers, rows in sections:
        document.add_heading(title, level=1)
        grid = document.add_table(rows=1, cols=2)
        grid.style = "Table Grid"
        grid.rows[0].cells[0].text, grid.rows[0].cells[1].text = headers[0], headers[1]
        for row in rows:
            cells = grid.add_row().cells
            cells[0].text, cells[1].text = str(row[0]), annual.shown(row[1])
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def annual_csv(figures: statistics.Figures) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("Table", "Row", "Value"))
    writer.writerows(("Summary", k, annual.shown(v)) for k, v in figures.headline.items())
    for t in figures.tables:
        writer.writerows((t.title, str(r[0]), annual.shown(r[1])) for r in t.rows)
    return out.getvalue().encode("utf-8")


@dataclass(frozen=True)
class Download:
    filename: str
    content: bytes
    content_type: str


async def annual_download(services: Services, actor: Actor, year_raw: str, fmt: str) -> Download | None:
    if not actor.roles.is_register_keeper:
        await refusals.record_alone(services, actor, ANNUAL, record_type="report")
        return None
    year = _year(year_raw, services.today())
    found = await register_reports.figures(services, year)
    made = services.clock().astimezone(services.zone)
    council = services.letters.council_name
    if fmt == "docx":
        content = await asyncio.to_thread(annual_docx, found, council, made)
        kind = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    elif fmt == "pdf":

        def pdf() -> bytes:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "report.pdf"
                charts = {t.key: annual.chart_png(t) for t in found.tables if t.chart}
                annual._pdf(found, council, charts, made, path)
                return path.read_bytes()

        content = await asyncio.to_thread(pdf)
        kind = "application/pdf"
    else:
        content, kind = annual_csv(found), "text/csv; charset=utf-8"
    await _note(services, actor, ANNUAL, "report", year, {"format": fmt})
    return Download(f"annual-report-{year}.{fmt}", content, kind)


async def subject_access_page(services: Services, actor: Actor, query: dict[str, str]) -> Page:
    refused = await _keepers_only(services, actor, EXPORT)
    if refused:
        return refused
    raw = (query.get("customer") or "").strip()
    form = tag(
        "form",
        field(
            "customer",
            "Customer number",
            raw,
            type_="number",
            hint="Find the customer in the register: the number is in their record's address.",
        ),
        tag("button", "Prepare", type_="submit"),
        data_route="/tools/subject-access",
        class_="filters",
    )
    body: list[object] = [
        para(
            "Everything the register holds about one customer, as JSON and as a readable Word document. "
            "Producing it is recorded in the audit trail."
        ),
        form,
    ]
    if raw.isdigit():
        async with services.reading() as session:
            customer = await session.get(Customer, int(raw))
        if customer is None:
            body.append(para(f"There is no customer {raw}."))
        else:
            body.append(
                para(
                    download(
                        f"Download the pack for customer {customer.id}",
                        f"/tab/api/subject-access/{customer.id}.zip",
                    )
                )
            )
    return Page("Subject access", _frame(actor, "Subject access request", *body))


async def subject_access_pack(services: Services, actor: Actor, customer_id: int) -> Download | None:
    if not actor.roles.is_register_keeper:
        await refusals.record_alone(services, actor, EXPORT, record_type="customer", record_id=customer_id)
        return None
    async with services.reading() as session:
        record = await export.customer_record(session, customer_id)
    if record is None:
        return None
    await _note(
        services, actor, EXPORT, "customer", customer_id, {"tables": {k: len(v) for k, v in record.items()}}
    )

    def pack() -> bytes:
        with tempfile.TemporaryDirectory() as folder:
            written = subject_access.write(customer_id, record, Path(folder))
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in written:
                    archive.write(path, path.name)
            return out.getvalue()

    return Download(
        f"subject-access-customer-{customer_id}.zip", await asyncio.to_thread(pack), "application/zip"
    )


async def retention_page(services: Services, actor: Actor) -> Page:
    refused = await _keepers_only(services, actor, RETENTION)
    if refused:
        return refused
    found = await retention_dialog.plan(services)
    await _note(services, actor, RETENTION, "report", services.today().isoformat(), {"due": len(found.due)})
    due = table(
        "Customers retention would anonymise tonight",
        ("Customer", "Incidents", "Due since"),
        (
            (
                link(f"Customer {d.customer_id}", route(f"/customer/{d.customer_id}")),
                d.incidents,
                local_date(d.due_since),
            )
            for d in found.due
        ),
        empty="Nobody is due to be anonymised.",
    )
    kept = table(
        "Kept, because a row's period cannot be counted",
        ("Customer", "Incident", "Why"),
        (
            (f"Customer {s.customer_id}", _incident_link(f"Incident {s.incident_id}", s.incident_id), s.why)
            for s in found.skipped
        ),
        empty="No row was skipped.",
    )
    words = para(
        f"A dry run: nothing is changed. {len(found.due)} customer(s) would be anonymised by the next "
        "nightly run; "
        "a restriction in force or an open appeal keeps a customer."
    )
    return Page("Retention", _frame(actor, "Retention: what the nightly run would do", words, due, kept))


async def roles_page(services: Services, actor: Actor) -> Page:
    refused = await _keepers_only(services, actor, ROLES)
    if refused:
        return refused
    async with services.reading() as session:
        rows = (
            await session.execute(
                select(Person.display_name, Person.email, RoleAssignment.role, ServiceArea.name)
                .join(RoleAssignment, RoleAssignment.person_id == Person.id)
                .outerjoin(ServiceArea, ServiceArea.id == RoleAssignment.service_area_id)
                .order_by(RoleAssignment.role, ServiceArea.name, Person.display_name, Person.email)
            )
        ).all()
        unreached = await people.unreachable(session, role_holders_only=True)
    await _note(services, actor, ROLES, "report", "roles")
    held = table(
        "Who holds which role",
        ("Role", "Service", "Person", "Email"),
        ((ROLE_LABELS[Role(role)], area or "", name or "", email or "") for name, email, role, area in rows),
        empty="Nobody holds a role: import the roles file.",
    )
    cannot = table(
        "Role holders the bot cannot reach",
        ("Person", "Email", "Why"),
        (
            (
                u.display_name or "",
                u.email or u.upn or "",
                "A guest account"
                if u.guest
                else "Has not opened the bot's chat, and Teams has not found them",
            )
            for u in unreached
        ),
        empty="Every role holder can be reached.",
    )
    return Page("Roles", _frame(actor, "Roles", held, cannot))


async def access_page(services: Services, actor: Actor, query: dict[str, str]) -> Page:
    refused = await _keepers_only(services, actor, ACCESS)
    if refused:
        return refused
    local = services.clock().astimezone(services.zone)
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    months = []
    start = first
    for _ in range(12):
        months.append(start)
        start = (start - timedelta(days=1)).replace(day=1)
    chosen = query.get("month") or f"{first:%Y-%m}"
    begin = next((m for m in months if f"{m:%Y-%m}" == chosen), first)
    end = (begin + timedelta(days=32)).replace(day=1)
    async with services.reading() as session:
        views = (await session.execute(audit.views_between(begin, end))).all()
        per_person: Counter[int | None] = Counter(a for a, _, _ in views)
        names = await decisions.names_of(session, [p for p in per_person if p])
    records: dict[int | None, Counter[str]] = {}
    for who, record_type, record_id in views:
        records.setdefault(who, Counter())[
            f"{record_type} {record_id}" if record_id else f"{record_type} search showing nobody"
        ] += 1
    await _note(services, actor, ACCESS, "report", f"{begin:%Y-%m}")
    chooser = tag(
        "form",
        select_field(
            "month", "Month", [Option(f"{m:%Y-%m}", f"{m:%B %Y}") for m in months], f"{begin:%Y-%m}"
        ),
        tag("button", "Show", type_="submit"),
        data_route="/tools/access",
        class_="filters",
    )
    rows = table(
        f"Who viewed customer records, {begin:%B %Y}",
        ("Person", "Views", "Most viewed"),
        (
            (
                names.get(person, "") if person else "command line",
                count,
                ", ".join(f"{rec} ×{n}" for rec, n in records[person].most_common(10)),
            )
            for person, count in per_person.most_common()
        ),
        empty="Nobody viewed a customer's record this month.",
    )
    return Page(
        "Access report",
        _frame(
            actor,
            "Access report",
            chooser,
            para("Every search, look-up, record view, export and letter download, by person."),
            rows,
        ),
    )


def unknown_person_page() -> Page:
    words = (
        "The register does not know you yet. Open the Customer Engagement chat and say hello: "
        "it then knows who you are, and this page shows what is waiting for you."
    )
    return Page("Welcome", join([tag("h1", "Welcome", id_="page-title", tabindex="-1"), para(words)]))
