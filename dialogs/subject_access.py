"""A subject access export: the customer's record as machine-readable JSON, and as a pack a person
can read (Word and PDF): a chronology in plain words and UK dates, the letters we sent in full,
and who looked at the record. Other customers' names and the names of staff are left out: staff
appear by their role, and any name of theirs or of another customer in free text is redacted."""

import asyncio
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.letter_files import letter_content
from dialogs.turn import Services
from letters.content import TITLES, letter_context, template_name
from policy.appeals import ROUTE_LABELS, in_a_line
from policy.categories import CATEGORIES, Category
from policy.channels import CHANNEL_LABELS, ContactChannel
from policy.decisions import (
    DECISION_LABELS,
    LETTER_METHODS,
    RESTORATIVE_STEP_LABELS,
    RESTRICTION_LABELS,
    AppealRoute,
    DecisionKind,
    RestorativeStep,
    RestrictionType,
    ReviewOutcome,
)
from storage import audit, export, people
from storage.models import (
    Appeal,
    AuditEvent,
    Customer,
    Decision,
    Incident,
    IncidentNote,
    Letter,
    Person,
    RestorativeStepTaken,
    Restriction,
    Review,
    ServiceArea,
)

ANOTHER_PERSON = "[another person]"
A_MEMBER_OF_STAFF = "[a member of staff]"
REVIEWS = {
    ReviewOutcome.CONTINUE.value: "continued",
    ReviewOutcome.VARY.value: "changed",
    ReviewOutcome.LIFT.value: "lifted",
    ReviewOutcome.REINSTATE.value: "put back in place",
}
LOOKED = ("viewed", "checked", "downloaded", "link_issued", "exported")


@dataclass
class Entry:
    on: date
    text: str


@dataclass
class Pack:
    name: str
    about: list[tuple[str, str]]
    chronology: list[Entry] = field(default_factory=list)
    letters: list[tuple[str, list[str]]] = field(default_factory=list)  # title, paragraphs
    looked_at: list[tuple[str, str]] = field(default_factory=list)  # date, what


def uk(value: date | datetime) -> str:
    return f"{value.day} {value:%B %Y}"


class Redactor:
    """Other customers' names and staff names, taken out of free text."""

    def __init__(self, others: Iterable[str], staff: Iterable[str]) -> None:
        def pattern(names: Iterable[str]) -> re.Pattern[str] | None:
            words = sorted({n.strip() for n in names if len(n.strip()) > 2}, key=len, reverse=True)
            return (
                re.compile("|".join(rf"\b{re.escape(w)}\b" for w in words), re.IGNORECASE) if words else None
            )

        self.others, self.staff = pattern(others), pattern(staff)

    def __call__(self, text: str | None) -> str:
        text = text or ""
        if self.others is not None:
            text = self.others.sub(ANOTHER_PERSON, text)
        if self.staff is not None:
            text = self.staff.sub(A_MEMBER_OF_STAFF, text)
        return text


async def _pack(session: AsyncSession, services: Services, customer: Customer) -> Pack:
    zone = services.zone

    def day(value: datetime) -> date:
        return value.astimezone(zone).date()

    others = (await session.scalars(select(Customer.name).where(Customer.id != customer.id))).all()
    staff = [p.display_name for p in (await session.scalars(select(Person))).all() if p.display_name]
    staff += [name.split()[0] for name in staff if " " in name]  # first names, as free text uses them
    redact = Redactor(others, staff)

    def quoted(text: str | None) -> str:
        return f"\u201c{redact(text)}\u201d"

    areas = {a.id: a.name for a in (await session.scalars(select(ServiceArea))).all()}
    incidents = (
        await session.scalars(
            select(Incident).where(Incident.customer_id == customer.id).order_by(Incident.id)
        )
    ).all()
    by_id = {i.id: i for i in incidents}
    ids = list(by_id)
    pack = Pack(
        customer.name,
        [
            (label, value)
            for label, value in (
                ("Name", customer.name),
                ("Email", customer.email),
                ("Telephone", customer.phone),
                ("Address", ", ".join(p for p in (customer.address, customer.postcode) if p)),
                ("Support needs or adjustments we recorded", redact(customer.support_needs)),
                ("Advocate or representative", redact(customer.advocate)),
            )
            if value
        ],
    )
    add = pack.chronology.append
    for i in incidents:
        category = CATEGORIES[Category(i.category)].label
        channel = CHANNEL_LABELS[ContactChannel(i.channel)].lower()
        add(
            Entry(
                day(i.occurred_at),
                f"A member of staff in {areas.get(i.service_area_id, 'the council')} reported an incident "
                f"({i.reference}), {channel}, recorded as {category}. What they wrote: "
                f"{quoted(i.description)}",
            )
        )
        if i.police_called:
            add(Entry(day(i.occurred_at), f"The police were called ({i.reference})."))
    for note in (
        await session.scalars(
            select(IncidentNote).where(IncidentNote.incident_id.in_(ids)).order_by(IncidentNote.id)
        )
    ).all():
        add(
            Entry(
                day(note.added_at),
                f"More information was added to {by_id[note.incident_id].reference}: {quoted(note.text)}",
            )
        )
    decisions = (
        await session.scalars(select(Decision).where(Decision.incident_id.in_(ids)).order_by(Decision.id))
    ).all()
    for d in decisions:
        incident = by_id[d.incident_id]
        said = (
            f"A manager in {areas.get(incident.service_area_id, 'the council')} decided on "
            f"{incident.reference}: {DECISION_LABELS[DecisionKind(d.kind)]}. "
            f"The reasons recorded: {quoted(d.reasons)}"
        )
        if d.customer_explanation:
            said += f" What we told you: {quoted(d.customer_explanation)}"
        add(Entry(day(d.decided_at), said))
    for step in (
        await session.scalars(
            select(RestorativeStepTaken).where(RestorativeStepTaken.customer_id == customer.id)
        )
    ).all():
        add(
            Entry(
                day(step.recorded_at),
                f"Restorative step: {RESTORATIVE_STEP_LABELS[RestorativeStep(step.step)]}.",
            )
        )
    restrictions = (
        await session.scalars(
            select(Restriction).where(Restriction.customer_id == customer.id).order_by(Restriction.id)
        )
    ).all()
    for r in restrictions:
        span = f"from {uk(r.starts_on)}" + (f" until {uk(r.ends_on)}" if r.ends_on else "")
        review = f", to be reviewed by {uk(r.review_due_on)}" if r.review_due_on else ""
        add(
            Entry(
                r.starts_on,
                f"Restriction: {RESTRICTION_LABELS[RestrictionType(r.type)]}: "
                f"{redact(r.details)} ({span}{review}).",
            )
        )
        if r.ended_at is not None:
            add(
                Entry(
                    day(r.ended_at),
                    f"The restriction ({RESTRICTION_LABELS[RestrictionType(r.type)]}) ended: "
                    f"{redact(r.ended_reason)}",
                )
            )
    restriction_ids = [r.id for r in restrictions]
    for v in (
        await session.scalars(
            select(Review).where(Review.restriction_id.in_(restriction_ids)).order_by(Review.id)
        )
    ).all():
        add(
            Entry(
                day(v.done_at),
                f"A review: the restriction was {REVIEWS.get(v.outcome, v.outcome)}. "
                f"The reasons recorded: {quoted(v.reasons)}",
            )
        )
    for a in (
        await session.scalars(select(Appeal).where(Appeal.incident_id.in_(ids)).order_by(Appeal.id))
    ).all():
        to = ROUTE_LABELS[AppealRoute(a.route)] if a.route else "no route under the policy"
        add(
            Entry(
                a.received_on,
                f"We received your appeal about {by_id[a.incident_id].reference}, to {to}: "
                f"{quoted(a.grounds)}",
            )
        )
        if a.outcome_at is not None:
            add(
                Entry(
                    day(a.outcome_at),
                    f"The outcome of your appeal: {in_a_line(a.route, a.outcome)}. "
                    f"The reasons recorded: {quoted(a.outcome_reasons)}",
                )
            )
    for letter in (
        await session.scalars(select(Letter).where(Letter.customer_id == customer.id).order_by(Letter.id))
    ).all():
        content = await letter_content(session, services, letter)
        if content is None:
            continue
        title = TITLES[template_name(content)]
        if letter.sent_on:
            how = LETTER_METHODS.get(letter.method or "", "")
            add(
                Entry(letter.sent_on, f"We sent you a letter: \u201c{title}\u201d ({how.lower() or 'sent'}).")
            )
        elif letter.not_appropriate_reason:
            add(
                Entry(
                    day(letter.produced_at),
                    f"A letter (\u201c{title}\u201d) was not sent. The reason "
                    f"recorded: {quoted(letter.not_appropriate_reason)}",
                )
            )
        else:
            add(
                Entry(
                    day(letter.produced_at),
                    f"A letter was prepared: \u201c{title}\u201d (not yet recorded as sent).",
                )
            )
        # The letter as it reads; staff are named in it only as it would be sent (never where protected).
        values = letter_context(content, services.letters)
        body = [values["explanation"], *[f"{r['what']}: {r['details']}" for r in values["restrictions"]]]
        body += [values[k] for k in ("outcome", "not_heard", "appeal", "spso") if values[k]]
        pack.letters.append((f"{title} ({uk(content.letter_date)})", [redact(p) for p in body if p]))
    pack.chronology.sort(key=lambda e: e.on)
    records = [("customer", str(customer.id)), *(("incident", str(i)) for i in ids)]
    events = (
        await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.record_type.in_([t for t, _ in records]))
            .where(AuditEvent.record_id.in_([i for _, i in records]))
            .order_by(AuditEvent.seq)
        )
    ).all()
    looked = Counter(
        day(e.occurred_at)
        for e in events
        if e.action.endswith(LOOKED) and (e.record_type, e.record_id) in records
    )
    pack.looked_at = [
        (uk(d), f"looked at {n} time{'s' if n > 1 else ''} by council staff")
        for d, n in sorted(looked.items())
    ]
    return pack


def _docx(pack: Pack, path: Path, council: str) -> None:
    from docx import Document  # loaded for an export, not with the bot
    from docx.shared import Mm

    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    document.add_heading(f"Information we hold about {pack.name}", level=0)
    document.add_paragraph(
        f"This is everything {council}'s customer engagement register holds about you, produced in "
        "answer to your subject access request. Staff are described by their role; the names of other "
        "people have been taken out and show as " + ANOTHER_PERSON + "."
    )
    document.add_heading("About you", level=1)
    for label, value in pack.about:
        paragraph = document.add_paragraph()
        paragraph.add_run(f"{label}: ").bold = True
        paragraph.add_run(value)
    document.add_heading("What happened, in date order", level=1)
    for entry in pack.chronology or [Entry(date.today(), "Nothing is recorded.")]:
        paragraph = document.add_paragraph(style="List Bullet")
        paragraph.add_run(f"{uk(entry.on)}: ").bold = True
        paragraph.add_run(entry.text)
    document.add_heading("Letters", level=1)
    if not pack.letters:
        document.add_paragraph("No letters.")
    for title, body in pack.letters:
        document.add_heading(title, level=2)
        for text in body:
            document.add_paragraph(text)
    document.add_heading("Who looked at your record", level=1)
    for when, what in pack.looked_at or [("", "Nobody has looked at it.")]:
        document.add_paragraph(f"{when}: {what}" if when else what)
    document.save(str(path))


def _pdf(pack: Pack, path: Path, council: str) -> None:
    from html import escape

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import ListFlowable, ListItem, Paragraph, SimpleDocTemplate

    styles = getSampleStyleSheet()
    story = [
        Paragraph(escape(f"Information we hold about {pack.name}"), styles["Title"]),
        Paragraph(
            escape(
                f"This is everything {council}'s customer engagement register holds about you, produced in "
                f"answer to your subject access request. Staff are described by their role; the names of "
                f"other people have been taken out and show as {ANOTHER_PERSON}."
            ),
            styles["Normal"],
        ),
        Paragraph("About you", styles["Heading2"]),
        *(
            Paragraph(f"<b>{escape(label)}:</b> {escape(value)}", styles["Normal"])
            for label, value in pack.about
        ),
        Paragraph("What happened, in date order", styles["Heading2"]),
        ListFlowable(
            [
                ListItem(Paragraph(f"<b>{uk(e.on)}:</b> {escape(e.text)}", styles["Normal"]))
                for e in pack.chronology
            ]
            or [ListItem(Paragraph("Nothing is recorded.", styles["Normal"]))],
            bulletType="bullet",
        ),
        Paragraph("Letters", styles["Heading2"]),
    ]
    for title, body in pack.letters:
        story.append(Paragraph(escape(title), styles["Heading3"]))
        story += [Paragraph(escape(text), styles["Normal"]) for text in body]
    story.append(Paragraph("Who looked at your record", styles["Heading2"]))
    looked = [escape(f"{when}: {what}") for when, what in pack.looked_at] or ["Nobody has looked at it."]
    story += [Paragraph(line, styles["Normal"]) for line in looked]

    def numbered(canvas, document) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawCentredString(A4[0] / 2, 10 * mm, f"Page {document.page}")
        canvas.restoreState()

    SimpleDocTemplate(str(path), pagesize=A4, title=f"Information we hold about {pack.name}").build(
        story, onFirstPage=numbered, onLaterPages=numbered
    )


@dataclass(frozen=True)
class Prepared:
    """A customer's export, ready to write: the machine-readable record and the readable pack."""

    record: dict[str, list[dict[str, Any]]]
    pack: Pack


async def prepare(session: AsyncSession, services: Services, customer_id: int) -> Prepared | None:
    """The export of a customer's record, redacted; None if there is no such customer. Reads only:
    the caller records the export as the audit event it is."""
    record = await export.customer_record(session, customer_id)
    customer = await session.get(Customer, customer_id) if record is not None else None
    if record is None or customer is None:
        return None
    pack = await _pack(session, services, customer)
    # The machine-readable copy too: another customer named in free text is redacted.
    others = Redactor(
        (await session.scalars(select(Customer.name).where(Customer.id != customer_id))).all(), ()
    )
    record = {
        table: [{k: others(v) if isinstance(v, str) else v for k, v in row.items()} for row in rows]
        for table, rows in record.items()
    }
    return Prepared(record, pack)


async def export_customer(
    services: Services, customer_id: int, out: Path, *, by_email: str | None
) -> list[Path] | None:
    """Write the export; the export itself is an audit event. None if there is no such customer."""
    now = services.clock()
    async with services.sessions() as session:
        prepared = await prepare(session, services, customer_id)
        if prepared is None:
            return None
        actor = await people.find_by_email(session, by_email) if by_email else None
        await audit.record(
            session,
            now=now,
            actor_id=actor.id if actor else None,
            action="customer.exported",
            record_type="customer",
            record_id=customer_id,
            detail={"tables": {k: len(v) for k, v in prepared.record.items()}},
        )
        await session.commit()
    return await asyncio.to_thread(write, customer_id, prepared, out, services.letters.council_name)


def write(customer_id: int, prepared: Prepared, out: Path, council: str) -> list[Path]:
    """The JSON, Word and PDF files of the export, in `out`."""
    record, pack = prepared.record, prepared.pack
    out.mkdir(parents=True, exist_ok=True)
    data = out / f"customer-{customer_id}.json"
    data.write_text(json.dumps(record, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    readable = out / f"customer-{customer_id}.docx"
    _docx(pack, readable, council)
    printable = out / f"customer-{customer_id}.pdf"
    _pdf(pack, printable, council)
    return [data, readable, printable]
