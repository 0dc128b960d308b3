"""What every page of the workspace shares: labels in the policy's words, the frame (navigation
and title), refusals, and the names the workspace's own refusals record."""

from dialogs import refusals
from dialogs.turn import Actor
from policy.appeals import ROUTE_LABELS
from policy.categories import CATEGORIES, Category
from policy.decisions import (
    RESTRICTION_LABELS,
    AppealRoute,
    RestrictionType,
)
from policy.incidents import IncidentStatus
from policy.roles import ROLE_LABELS, Role, Roles
from storage import workspace
from workspace.html import (
    Html,
    Page,
    join,
    link,
    para,
    route,
    tag,
)

HOME_SHOWN = 5  # rows of each queue on the home page; its own page shows up to workspace.LIMIT
STATE_LABELS = {
    IncidentStatus.REPORTED.value: "Waiting for a manager's decision",
    IncidentStatus.DECIDED.value: "Decided",
}
STAGE_LABELS = {"due_soon": "Due soon", "due": "Due", "overdue": "Overdue", "escalated": "Escalated"}
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


def category_label(value: str) -> str:
    try:
        return CATEGORIES[Category(value)].label
    except ValueError:
        return value


def restriction_label(value: str) -> str:
    try:
        return RESTRICTION_LABELS[RestrictionType(value)]
    except ValueError:
        return value


def route_label(value: str) -> str:
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


def areas_for(actor: Actor) -> tuple[list[str] | None, int | None]:
    """The service areas whose part of the register the actor sees (None: all), and the reporter
    whose incidents are left out (a manager never sees what they reported, as in chat)."""
    if actor.roles.is_register_keeper:
        return None, None
    return sorted(actor.roles.managed_areas), actor.person_id


# --- pages -----------------------------------------------------------------------------------


def nav(actor: Actor) -> Html:
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


def frame(actor: Actor, title: str, *body: object) -> Html:
    return join([nav(actor), tag("h1", title, id_="page-title", tabindex="-1"), *body])


def roles_line(roles: Roles) -> str:
    held = []
    for grant in sorted(roles.grants, key=lambda g: (g.role.value, g.service_area or "")):
        label = ROLE_LABELS[grant.role]
        if grant.role is Role.MANAGER and grant.area_name:
            label = f"{label}, {grant.area_name}"
        held.append(label)
    return ", ".join(held) if held else "Member of staff"


def refused(actor: Actor, title: str, *, status: int = 403, words: str = NO_ACCESS) -> Page:
    return Page(title, frame(actor, title, para(words)), status=status)


def unknown_person_page() -> Page:
    words = (
        "The register does not know you yet. Open the Customer Engagement chat and say hello: "
        "it then knows who you are, and this page shows what is waiting for you."
    )
    return Page("Welcome", join([tag("h1", "Welcome", id_="page-title", tabindex="-1"), para(words)]))


def incident_link(reference: str, incident_id: int) -> Html:
    return link(reference, route(f"/incident/{incident_id}"))


def counted(listed: workspace.Listed) -> str:
    """How many, as people read it: "1,000 or more" past what is counted."""
    return f"{listed.total:,} or more" if listed.capped else f"{listed.total:,}"
