"""What is waiting for each person: the queues by role, counted on the home page."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from cards.formatting import local_date, local_time
from dialogs.appeals import clock_of
from dialogs.turn import Actor, Services
from dialogs.workspace.common import (
    HOME_SHOWN,
    LETTER_KIND_LABELS,
    STATE_LABELS,
    areas_for,
    category_label,
    counted,
    frame,
    incident_link,
    is_reviewer_of_any,
    refused,
    restriction_label,
    roles_line,
    route_label,
)
from policy.appeals import HEARERS, outcome_due
from policy.roles import Roles
from storage import workspace
from workspace.html import (
    Html,
    Page,
    count_badge,
    link,
    para,
    route,
    section,
    table,
    tag,
)

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


def _incidents_table(ctx: Context, rows: list, caption: str) -> Html:
    return table(
        caption,
        ("Incident", "Occurred", "Category", "Service", "State"),
        (
            (
                incident_link(r.reference, r.id),
                ctx.day(r.occurred_at),
                category_label(r.category),
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
                incident_link(r.reference, r.incident_id),
                restriction_label(r.type),
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
    """When the outcome is due, as the appeal was logged (its stage's, or the council's target)."""
    return outcome_due(row.respond_by, row.logged_at.astimezone(services.zone).date(), clock_of(services))


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
                incident_link(r.reference, r.incident_id),
                route_label(r.route) + (f", Stage {r.stage}" if r.stage else ""),
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
    areas, reporter = areas_for(ctx.actor)
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
    return [route.value for route, role in HEARERS.items() if roles.has(role)]


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
                incident_link(r.reference, r.incident_id),
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
                incident_link(r.reference, r.incident_id),
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
                incident_link(r.reference, r.incident_id),
                restriction_label(r.type),
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
    return actor.roles.is_register_keeper or any(actor.roles.has(role) for role in HEARERS.values())


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


async def home(services: Services, actor: Actor) -> Page:
    parts: list[object] = [para(f"Signed in as {actor.display_name or 'you'}: {roles_line(actor.roles)}.")]
    async with services.reading() as session:
        ctx = Context(services, actor, session)
        summary = []
        for queue in queues_for(actor):
            listed = await queue.load(ctx)
            summary.append(
                tag(
                    "li",
                    link(queue.title, route(f"/queue/{queue.key}")),
                    " ",
                    count_badge(listed.total, capped=listed.capped),
                )
            )
            shown = listed.rows[:HOME_SHOWN]
            more = (
                para(link(f"See all {counted(listed)}", route(f"/queue/{queue.key}")))
                if listed.total > HOME_SHOWN
                else None
            )
            parts.append(
                section(
                    f"{queue.title} ({counted(listed)})",
                    queue.render(ctx, shown) if shown else para(queue.empty, class_="empty"),
                    more,
                    id_=f"q-{queue.key}",
                )
            )
        if actor.roles.is_register_keeper:
            by_service = await workspace.restrictions_by_service(session)
            parts.append(
                section(
                    "Restrictions in force, by service",
                    table(
                        "Restrictions in force, by service",
                        ("Service", "Restrictions in force"),
                        by_service,
                        empty="No restriction is in force.",
                    ),
                    id_="by-service",
                )
            )
    waiting = tag("ul", *summary, class_="summary", aria_label="What is waiting for you")
    return Page("What is waiting for you", frame(actor, "What is waiting for you", waiting, *parts))


async def queue_page(services: Services, actor: Actor, key: str) -> Page:
    queue = QUEUES.get(key)
    if queue is None or not queue.allowed(actor):
        return refused(actor, "Not available", status=403 if queue else 404)
    async with services.reading() as session:
        ctx = Context(services, actor, session)
        listed = await queue.load(ctx)
        body = queue.render(ctx, listed.rows) if listed.rows else para(queue.empty, class_="empty")
    shown = f"Showing {len(listed.rows):,} of {counted(listed)}." if listed.total > len(listed.rows) else None
    return Page(
        queue.title, frame(actor, f"{queue.title} ({counted(listed)})", para(shown) if shown else None, body)
    )
