"""The register, searched and filtered: the keepers all of it, managers their own service's part.
Every customer listed is a read of the register, as the report form's search is."""

from datetime import date

from cards.formatting import local_date
from dialogs import finding, refusals
from dialogs.turn import Actor, Services
from dialogs.workspace.common import (
    SEARCH,
    STATE_LABELS,
    areas_for,
    category_label,
    counted,
    frame,
    incident_link,
    may_search,
    refused,
)
from policy.categories import CATEGORIES, Category
from storage import audit, workspace
from workspace.html import (
    Option,
    Page,
    field,
    link,
    route,
    table,
    tag,
)
from workspace.html import (
    select as select_field,
)

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
        return refused(actor, "The register")
    chosen = filters_from(query)
    try:
        page = max(0, min(int(query.get("page") or 0), 200))
    except ValueError:
        page = 0
    areas, reporter = areas_for(actor)
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
            incident_link(r.reference, r.id),
            link(r.customer_name, route(f"/customer/{r.customer_id}"))
            if not r.anonymised
            else "(anonymised)",
            local_date(r.occurred_at.astimezone(services.zone).date()),
            category_label(r.category),
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
        f"{counted(listed)} incident{'s' if listed.total != 1 else ''} in {scope}, newest first",
        ("Incident", "Customer", "Occurred", "Category", "Service", "State"),
        rows,
        empty="Nothing in the register matches.",
    )
    return Page(
        "The register",
        frame(
            actor,
            "The register",
            form,
            tag("div", results, role="region", aria_live="polite", aria_label="Results"),
            tag("p", *pager, class_="pager") if pager else None,
        ),
    )
