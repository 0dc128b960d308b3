"""The register keepers' tools: the annual report, the subject access pack, retention's dry run,
roles, and the access report; each one audited, and refused to everyone else."""

import asyncio
import csv
import io
import tempfile
import zipfile
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from cards.formatting import local_date
from dialogs import refusals, register_reports, subject_access
from dialogs import retention as retention_dialog
from dialogs.turn import Actor, Services
from dialogs.workspace.common import (
    ACCESS,
    ANNUAL,
    EXPORT,
    RETENTION,
    ROLES,
    frame,
    incident_link,
    refused,
)
from policy.roles import ROLE_LABELS, Role
from reporting import annual
from storage import audit, decisions, people, statistics
from storage.models import (
    Customer,
    Person,
    RoleAssignment,
    ServiceArea,
)
from workspace.html import (
    Option,
    Page,
    download,
    field,
    link,
    para,
    route,
    table,
    tag,
)
from workspace.html import (
    select as select_field,
)

# --- the keepers' tools ------------------------------------------------------------------------


async def _keepers_only(services: Services, actor: Actor, attempted: str) -> Page | None:
    if actor.roles.is_register_keeper:
        return None
    await refusals.record_alone(services, actor, attempted, record_type="report")
    return refused(actor, "Register keepers only", words="Only the register keepers may use this.")


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
        title, frame(actor, title, chooser, para("Counts from 1 to 4 are shown as <5."), downloads, *tables)
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
    return Page("Subject access", frame(actor, "Subject access request", *body))


async def subject_access_pack(services: Services, actor: Actor, customer_id: int) -> Download | None:
    if not actor.roles.is_register_keeper:
        await refusals.record_alone(services, actor, EXPORT, record_type="customer", record_id=customer_id)
        return None
    async with services.reading() as session:
        prepared = await subject_access.prepare(session, services, customer_id)
    if prepared is None:
        return None
    tables = {k: len(v) for k, v in prepared.record.items()}
    await _note(services, actor, EXPORT, "customer", customer_id, {"tables": tables})

    def pack() -> bytes:
        with tempfile.TemporaryDirectory() as folder:
            written = subject_access.write(customer_id, prepared, Path(folder), services.letters.council_name)
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
            (f"Customer {s.customer_id}", incident_link(f"Incident {s.incident_id}", s.incident_id), s.why)
            for s in found.skipped
        ),
        empty="No row was skipped.",
    )
    words = para(
        f"A dry run: nothing is changed. {len(found.due)} customer(s) would be anonymised by the next "
        "nightly run; "
        "a restriction in force or an open appeal keeps a customer."
    )
    return Page("Retention", frame(actor, "Retention: what the nightly run would do", words, due, kept))


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
    return Page("Roles", frame(actor, "Roles", held, cannot))


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
        frame(
            actor,
            "Access report",
            chooser,
            para("Every search, look-up, record view, export and letter download, by person."),
            rows,
        ),
    )
