"""The year's figures for the annual report to committee, counted from the register.

Counts only: nothing here names a person. Small numbers are suppressed where they are shown
(`reporting`), not here, so totals stay right.
"""

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from policy.appeals import in_a_line
from policy.categories import CATEGORIES, Category, behaviour_choices
from policy.channels import CHANNEL_LABELS, ContactChannel
from policy.decisions import (
    DECISION_LABELS,
    RESTRICTION_LABELS,
    DecisionKind,
    RestrictionType,
)
from policy.working_days import working_days_between
from storage.models import Appeal, Customer, Decision, Incident, Letter, Restriction, Review, ServiceArea

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    headers: tuple[str, ...]
    rows: list[tuple[str, ...] | tuple[str, int]] = field(default_factory=list)
    chart: bool = False  # a reader would rather look than read


@dataclass(frozen=True)
class Figures:
    year: int
    tables: list[Table]
    headline: dict[str, int | str]

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)


def _counted(
    title: str, key: str, header: str, counts: Counter, order: list[str] | None = None, chart: bool = False
) -> Table:
    names = order if order is not None else [name for name, _ in counts.most_common()]
    return Table(key, title, (header, "Count"), [(name, counts.get(name, 0)) for name in names], chart)


def _days(hours: list[float]) -> tuple[str, str]:
    if not hours:
        return "none decided", "none decided"
    ordered = sorted(hours)
    p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]  # nearest rank
    return f"{statistics.median(ordered) / 24:.1f} days", f"{p90 / 24:.1f} days"


async def year_figures(
    session: AsyncSession, year: int, zone: ZoneInfo, holidays: frozenset[date] = frozenset()
) -> Figures:
    start = datetime(year, 1, 1, tzinfo=zone).astimezone(UTC)
    end = datetime(year + 1, 1, 1, tzinfo=zone).astimezone(UTC)
    year_end = date(year, 12, 31)
    areas = {a.id: a.name for a in (await session.scalars(select(ServiceArea))).all()}
    incidents = (
        await session.scalars(
            select(Incident).where(Incident.occurred_at >= start, Incident.occurred_at < end)
        )
    ).all()
    decisions = (
        await session.scalars(select(Decision).where(Decision.decided_at >= start, Decision.decided_at < end))
    ).all()
    # Every incident's customer and report time, read once: decisions reach back before the year.
    all_incidents = (
        await session.execute(select(Incident.id, Incident.customer_id, Incident.reported_at))
    ).all()
    reported_at = {i.id: i.reported_at for i in all_incidents}
    customer_of = {i.id: i.customer_id for i in all_incidents}
    restrictions = (await session.scalars(select(Restriction))).all()
    reviews = (
        await session.scalars(select(Review).where(Review.done_at >= start, Review.done_at < end))
    ).all()
    letters = (
        await session.scalars(select(Letter).where(Letter.produced_at >= start, Letter.produced_at < end))
    ).all()
    appeals = (
        await session.scalars(select(Appeal).where(Appeal.logged_at >= start, Appeal.logged_at < end))
    ).all()

    by_category = Counter(CATEGORIES[Category(i.category)].label for i in incidents)
    by_channel = Counter(CHANNEL_LABELS[ContactChannel(i.channel)] for i in incidents)
    by_area = Counter(areas.get(i.service_area_id, "?") for i in incidents)
    by_month = Counter(MONTHS[i.occurred_at.astimezone(zone).month - 1] for i in incidents)
    behaviours = Counter(
        next(b.title for b in behaviour_choices(Category(i.category)) if b.key == key)
        for i in incidents
        for key in i.behaviours
    )
    kinds = Counter(DECISION_LABELS[DecisionKind(d.kind)] for d in decisions)
    restorative = [d for d in decisions if d.kind == DecisionKind.RESTORATIVE_APPROACH.value]
    # A restorative approach "worked" when the customer was not reported again within the year.
    later = Counter()
    for d in restorative:
        customer = customer_of.get(d.incident_id)
        again = any(i.customer_id == customer and i.reported_at > d.decided_at for i in all_incidents)
        later["Reported again afterwards" if again else "Not reported again"] += 1
    applied = [r for r in restrictions if start.date() <= r.starts_on <= year_end]
    by_type = Counter(RESTRICTION_LABELS[RestrictionType(r.type)] for r in applied)
    in_force_at_end = [
        r
        for r in restrictions
        if r.starts_on <= year_end
        and (r.ended_at is None or r.ended_at.astimezone(zone).date() > year_end)
        and (r.ends_on is None or r.ends_on >= year_end)
    ]
    active_at_end = Counter(RESTRICTION_LABELS[RestrictionType(r.type)] for r in in_force_at_end)
    # Customers under active management: anyone with a restriction in force on 31 December.
    managed_customers = len({r.customer_id for r in in_force_at_end})
    no_review = sum(1 for r in in_force_at_end if r.review_due_on is None)
    overseen = sum(1 for r in restrictions if r.overseen_at is not None and start <= r.overseen_at < end)
    # Only the serious statement: acting without warning because the threat was extreme. Not the
    # restrictions where approaches were not possible or appropriate, nor those warned outside.
    without_warning = sum(1 for d in decisions if d.without_prior_warning)
    not_possible = sum(1 for d in decisions if d.restorative_not_possible_reason)
    # Undecided at year end: reported by 31 December, with no decision by then.
    first_decided = {
        incident_id: at
        for incident_id, at in (
            await session.execute(
                select(Decision.incident_id, func.min(Decision.decided_at)).group_by(Decision.incident_id)
            )
        ).all()
    }
    undecided_at_end = sum(
        1
        for incident_id, _, at in all_incidents
        if at < end and (incident_id not in first_decided or first_decided[incident_id] >= end)
    )
    contacts_ended = sum(1 for i in incidents if i.ended_contact)
    hours = [
        (d.decided_at - reported_at[d.incident_id]).total_seconds() / 3600
        for d in decisions
        if d.incident_id in reported_at
    ]
    median, p90 = _days(hours)
    # Time to decision for each category: zero tolerance should be quickest.
    category_of = {i.id: i.category for i in incidents}
    hours_by_category: dict[str, list[float]] = {}
    for d in decisions:
        if d.incident_id in reported_at and d.incident_id in category_of:
            label = CATEGORIES[Category(category_of[d.incident_id])].label
            hours_by_category.setdefault(label, []).append(
                (d.decided_at - reported_at[d.incident_id]).total_seconds() / 3600
            )
    # Equalities: the register holds no protected characteristics (it keeps only what the policy
    # needs); what it does hold is whether support needs, an advocate or an accessible format
    # were recorded for the customers reported in the year.
    reported = sorted({i.customer_id for i in incidents})
    customers = (await session.scalars(select(Customer).where(Customer.id.in_(reported)))).all()
    on_time = sum(1 for r in reviews if r.done_at.astimezone(zone).date() <= r.due_on)
    late = len(reviews) - on_time
    # Overdue at year end: a review date in or before the year, no review done by 31 December
    # for that date, and the restriction still in force then. Worked out as at 31 December, so
    # the report says the same whenever it is run.
    reviewed = {
        (v.restriction_id, v.due_on) for v in (await session.scalars(select(Review))).all() if v.done_at < end
    }
    overdue = sum(
        1
        for r in restrictions
        if r.review_due_on is not None
        and r.review_due_on <= year_end
        and (r.id, r.review_due_on) not in reviewed
        and r.starts_on <= year_end
        and (r.ended_at is None or r.ended_at >= end)
    )
    sent = [letter for letter in letters if letter.sent_on]
    within_five = sum(
        1
        for letter in sent
        if working_days_between(letter.produced_at.astimezone(zone).date(), letter.sent_on, holidays) <= 5
    )
    not_explained = sum(1 for letter in letters if letter.not_appropriate_reason)
    # The customer's side, as the letters and cards say it: "Partly upheld: the decision is varied".
    routes = Counter(in_a_line(a.route, a.outcome) for a in appeals)
    staff = Counter()
    for i in incidents:
        staff["Reports by staff"] += 1
        for party in i.others_affected:
            staff[
                {
                    "staff": "Other staff affected",
                    "elected_members": "Elected Members affected",
                    "other_customers": "Other customers affected",
                }[party]
            ] += 1
    staff["Staff who reported"] = len({i.reporter_id for i in incidents})
    staff["Reporters who asked for support"] = sum(1 for i in incidents if i.reporter_wants_support)

    tables = [
        _counted(
            "Incidents by category",
            "by_category",
            "Category",
            by_category,
            [t.label for t in CATEGORIES.values()],
            chart=True,
        ),
        _counted("Incidents by channel", "by_channel", "Channel", by_channel, list(CHANNEL_LABELS.values())),
        _counted("Incidents by service area", "by_area", "Service area", by_area, sorted(areas.values())),
        _counted("Incidents by month", "by_month", "Month", by_month, list(MONTHS), chart=True),
        _counted("Behaviours most reported", "behaviours", "Behaviour", behaviours),
        _counted("Decisions", "decisions", "Decision", kinds, list(DECISION_LABELS.values())),
        _counted(
            "Restorative approaches and their results",
            "restorative",
            "Result",
            later,
            ["Not reported again", "Reported again afterwards"],
        ),
        _counted(
            "Restrictions applied, by type",
            "restrictions_applied",
            "Restriction",
            by_type,
            list(RESTRICTION_LABELS.values()),
            chart=True,
        ),
        _counted(
            "Restrictions active at year end",
            "restrictions_active",
            "Restriction",
            active_at_end,
            list(RESTRICTION_LABELS.values()),
        ),
        Table(
            "without_warning",
            "Decisions taken without prior warning",
            ("Decisions", "Count"),
            [
                ("Without prior warning: the threat was so extreme that it demanded it", without_warning),
                ("Restorative approaches not possible or not appropriate (recorded why)", not_possible),
            ],
        ),
        Table(
            "unseen",
            "Nothing waits unseen",
            ("Measure", "Count"),
            [
                ("Customers under active management at year end", managed_customers),
                ("Restrictions with no review, in force at year end", no_review),
                ("Restrictions with no review overseen by the register keepers", overseen),
                ("Incidents undecided at year end", undecided_at_end),
                ("Contacts ended by staff at the time", contacts_ended),
            ],
        ),
        Table(
            "time_to_decision",
            "Time from report to decision",
            ("Measure", "Value"),
            [("Median", median), ("90th percentile", p90), ("Decisions", len(hours))],
        ),
        Table(
            "time_by_category",
            "Median time from report to decision, by category",
            ("Category", "Median"),
            [(t.label, _days(hours_by_category.get(t.label, []))[0]) for t in CATEGORIES.values()],
        ),
        Table(
            "equalities",
            "Customers reported: support and access recorded",
            ("Customers", "Count"),
            [
                ("Customers reported", len(customers)),
                ("With support needs or adjustments recorded", sum(1 for c in customers if c.support_needs)),
                ("With an advocate or representative", sum(1 for c in customers if c.advocate)),
                (
                    "Who asked for letters in another format or language",
                    sum(1 for c in customers if c.letter_format or c.language),
                ),
            ],
        ),
        Table(
            "reviews",
            "Reviews",
            ("Reviews", "Count"),
            [("Done on time", on_time), ("Done late", late), ("Overdue at year end", overdue)],
        ),
        Table(
            "letters",
            "Letters to customers",
            ("Letters", "Count"),
            [
                ("Produced", len(letters)),
                ("Sent", len(sent)),
                ("Sent within 5 working days", within_five),
                ("Not appropriate to explain (recorded why)", not_explained),
            ],
        ),
        _counted("Appeals by route and outcome", "appeals", "Route: outcome", routes),
        _counted("Staff affected", "staff", "Measure", staff, list(staff)),
    ]
    headline: dict[str, int | str] = {
        "Incidents": len(incidents),
        "Category one (zero tolerance)": by_category.get(CATEGORIES[Category.ONE].label, 0),
        "Decisions": len(decisions),
        "Restrictions applied": len(applied),
        "Appeals": len(appeals),
        "Median time to decision": median,
        "Customers under active management": managed_customers,
        "Restrictions with no review": no_review,
        "Incidents undecided at year end": undecided_at_end,
        "Contacts ended": contacts_ended,
        "Without prior warning": without_warning,
    }
    return Figures(year, tables, headline)
