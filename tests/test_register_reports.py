"""The register keeper's reports, checked against a register with known counts."""

import asyncio
import base64
import csv
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

from docx import Document
from docx.oxml.ns import qn
from pypdf import PdfReader
from sqlalchemy import select

from bot.app import SERVICES
from dialogs import register_reports
from storage import audit, decisions
from storage.models import (
    Appeal,
    AuditEvent,
    Customer,
    Decision,
    Incident,
    Letter,
    Person,
    Restriction,
    Review,
    ServiceArea,
)
from tests.support.dialog import texts
from tests.support.teams import AMY, KIM, SAM
from tests.test_cli import run
from tests.test_decide import ROLES

LOOK = Path(__file__).parents[1] / "build" / "look" / "reports"


async def _known_register(harness) -> None:
    """2026: 9 incidents: 7 of category two by phone (Jan to Jul), 2 of category one in person
    (March); 3 decisions; 3 restrictions (one overdue for review); 1 review on time; 1 letter
    sent in 3 working days;
    1 appeal to the review group, not upheld (the decision confirmed)."""
    await harness.import_roles(ROLES)
    when = lambda month, day=10: datetime(2026, month, day, 11, tzinfo=UTC)  # noqa: E731
    async with harness.sessions() as session:
        area = (await session.scalars(select(ServiceArea).order_by(ServiceArea.key))).first()
        person = Person(email="x@council.example", display_name="X", created_at=when(1), updated_at=when(1))
        customer = Customer(name="Pat Jones", created_at=when(1))
        session.add_all([person, customer])
        await session.flush()
        incidents = []
        for n in range(9):
            one = n >= 7
            incident = Incident(
                reference=f"INC-2026-{n + 1:05d}",
                year=2026,
                sequence=n + 1,
                customer_id=customer.id,
                reporter_id=person.id,
                service_area_id=area.id,
                occurred_at=when(3 if one else n + 1),
                reported_at=when(3 if one else n + 1, 11),
                channel="in_person" if one else "phone",
                category="one" if one else "two",
                behaviours=["violent_aggressive_threatening"] if one else ["demanding_responses"],
                description="x",
                others_affected=["staff"] if one else [],
                status="decided" if n < 3 else "reported",
                urgent=one,
            )
            session.add(incident)
            incidents.append(incident)
        await session.flush()
        kinds = ["no_further_action", "restorative_approach", "active_management"]
        made = []
        for n, kind in enumerate(kinds):
            decision = Decision(
                incident_id=incidents[n].id,
                kind=kind,
                deciding_body="manager",
                decided_by_id=person.id,
                decided_at=when(n + 1, 12),
                reasons="r",
                without_prior_warning=kind == "active_management",
            )
            session.add(decision)
            made.append(decision)
        await session.flush()
        for type_, status, review in (
            ("contact_channels", "active", date(2026, 9, 12)),
            ("premises_ban", "lifted", date(2026, 9, 12)),
            ("single_point_of_contact", "active", date(2026, 11, 1)),  # never reviewed: overdue
        ):
            session.add(
                Restriction(
                    decision_id=made[2].id,
                    customer_id=customer.id,
                    service_area_id=area.id,
                    type=type_,
                    details="d",
                    scope="service",
                    frontline_instructions="i",
                    starts_on=date(2026, 3, 12),
                    review_due_on=review,
                    reviewer_id=person.id,
                    status=status,
                    ended_at=when(6) if status == "lifted" else None,
                )
            )
        await session.flush()
        first = (await session.scalars(Restriction.__table__.select())).first()
        session.add(
            Review(
                restriction_id=first,
                due_on=date(2026, 9, 12),
                reviewer_id=person.id,
                done_at=when(9, 11),
                outcome="continue",
                reasons="r",
            )
        )
        session.add(
            Letter(
                kind="decision",
                customer_id=customer.id,
                decision_id=made[2].id,
                produced_at=when(3, 12),
                produced_by_id=person.id,
                sent_on=date(2026, 3, 17),
                method="post",
            )
        )
        session.add(
            Appeal(
                incident_id=incidents[2].id,
                against="decision",
                decision_id=made[2].id,
                route="complaints_review_group",
                received_on=date(2026, 3, 20),
                grounds="g",
                logged_by_id=person.id,
                logged_at=when(3, 21),
                status="decided",
                outcome="not_upheld",
            )
        )
        await session.commit()


async def test_the_years_figures_are_the_registers(harness):
    await _known_register(harness)
    found = await register_reports.figures(harness.app[SERVICES], 2026)
    rows = lambda key: dict(found.table(key).rows)  # noqa: E731
    assert rows("by_category")["Category two: Demands on the Council"] == 7
    assert rows("by_category")["Category one: Violent, Aggressive, Threatening, or Abusive Behaviour"] == 2
    assert rows("by_channel") == {**{k: 0 for k in rows("by_channel")}, "Phone": 7, "In person": 2}
    assert rows("by_month")["Mar"] == 3 and rows("by_month")["Aug"] == 0
    assert rows("behaviours") == {
        "Demanding responses": 7,
        "Violent, Aggressive, or Threatening Behaviour": 2,
    }
    assert rows("decisions")["Active management"] == 1
    assert rows("restrictions_applied")["Restricting contact to named channels"] == 1
    assert rows("restrictions_active")["Restricting contact to named channels"] == 1
    assert rows("restrictions_active")["Ban from council premises"] == 0
    assert rows("without_warning") == {
        "Without prior warning: the threat was so extreme that it demanded it": 1,
        "Restorative approaches not possible or not appropriate (recorded why)": 0,
    }
    assert rows("time_to_decision") == {"Median": "1.0 days", "90th percentile": "1.0 days", "Decisions": 3}
    assert rows("reviews") == {"Done on time": 1, "Done late": 0, "Overdue at year end": 1}
    assert rows("letters")["Sent within 5 working days"] == 1
    assert rows("appeals") == {"the Complaints Review Group: Not upheld: the decision is confirmed": 1}
    assert rows("staff")["Other staff affected"] == 2
    assert found.headline["Incidents"] == 9
    assert rows("time_by_category") == {
        "Category one: Violent, Aggressive, Threatening, or Abusive Behaviour": "none decided",
        "Category two: Demands on the Council": "1.0 days",
        "Category three: Levels of Contact": "none decided",
        "Category four: Persistence": "none decided",
    }
    assert rows("equalities")["Customers reported"] == 1


async def test_the_report_is_written_as_html_pdf_and_csv_with_small_numbers_suppressed(
    harness, tmp_path, database_url
):
    await _known_register(harness)
    result = run(
        "report",
        "annual",
        "--year",
        "2026",
        "--out",
        str(tmp_path / "out"),
        cwd=tmp_path,
        env={"DATABASE_URL": database_url},
    )
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    page = (out / "annual-report-2026.html").read_text()
    for table in (
        "Incidents by category",
        "Incidents by month",
        "Restrictions applied, by type",
        "Time from report to decision",
        "Reviews",
        "Appeals by route and outcome",
        "Staff affected",
    ):
        assert table in page
    assert "data:image/png;base64," in page  # charts embedded
    assert "<td class='n'>7</td>" in page  # seven is published
    assert "<td class='n'>&lt;5</td>" in page  # two is not
    assert ">2<" not in page.split("<h2>Summary</h2>")[1].split("</table>")[0]
    pdf = PdfReader(str(out / "annual-report-2026.pdf"))
    words = " ".join(p.extract_text() for p in pdf.pages)
    for section in (
        "Summary",
        "Incidents by category",
        "Behaviours most reported",
        "Reviews",
        "Letters to customers",
        "Appeals by route and outcome",
    ):
        assert section in words, section
    with (out / "annual-report-2026-by_channel.csv").open() as handle:
        table = dict(csv.reader(handle))
    assert table["Phone"] == "7" and table["In person"] == "<5" and table["Letter"] == "0"
    # The command runs on today's date: before 31 December the year is a part year, and says so.
    covered = (
        "Part year: 1 January to" if date.today() < date(2026, 12, 31) else "1 January to 31 December 2026"
    )
    assert "Page 1" in pdf.pages[0].extract_text() and covered in words

    # The committee paper, in Word, as a council tables it.
    paper = Document(str(out / "annual-report-2026.docx"))
    section = paper.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    headings = [p.text for p in paper.paragraphs if p.style.name.startswith("Heading")]
    assert headings == [
        "Managing Customer Engagement – annual report 2026",
        "Executive summary",
        "Recommendations",
        "Background",
        "Main report",
        "Measures of success",
        "Financial impact",
        "Risk, policy, compliance and governance impact",
        "Equalities impact",
        "Sustainability impact",
        "Consultation and engagement",
        "Background reading/external references",
        "Contacts",
    ]
    words = "\n".join(p.text for p in paper.paragraphs)
    assert "In 2026 staff reported 9 incidents of unacceptable customer engagement (up 9 on 2025)" in words
    assert covered in words
    # Only the council can write some parts: left highlighted, in brackets, to write over.
    highlighted = [r.text for p in paper.paragraphs for r in p.runs if r.font.highlight_color]
    assert "[Committee name]" in highlighted and "[Add the findings of the equality impact assessment.]" in [
        h.split("\t")[-1] for h in highlighted
    ]
    cells = {tuple(c.text for c in row.cells) for table in paper.tables for row in table.rows}
    assert ("Incidents", "9", "0", "up 9") in cells  # year on year
    assert ("Category one (zero tolerance)", "<5", "0", "not shown (small numbers)") in cells
    assert ("Category two: Demands on the Council", "1.0 days") in cells  # time to decision by category
    assert ("Customers reported", "<5") in cells  # equalities, suppressed
    # Tables are kept whole: no row splits across pages, each row kept with the next.
    for table in paper.tables:
        for row in table.rows:
            assert row._tr.trPr is not None and row._tr.trPr.find(qn("w:cantSplit")) is not None
    footer = section.footer.paragraphs[0]._p.xml
    assert "PAGE" in footer and "NUMPAGES" in footer
    printed = _printed(out / "annual-report-2026.docx")
    if printed is not None:  # as LibreOffice prints it
        assert "Page 1 of" in printed.pages[0].extract_text()
        assert "Equalities impact" in " ".join(p.extract_text() for p in printed.pages)


def _printed(document: Path) -> PdfReader | None:
    """The document as LibreOffice prints it, its pages drawn to build/look/reports to look at."""
    if not shutil.which("soffice"):
        return None
    LOOK.mkdir(parents=True, exist_ok=True)
    command = ["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(LOOK), str(document)]
    subprocess.run(command, check=True, capture_output=True, timeout=180)
    pdf = LOOK / f"{document.stem}.pdf"
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf), str(LOOK / "paper")], check=True)
    return PdfReader(str(pdf))


async def test_stats_in_teams_is_for_register_keepers(harness):
    await _known_register(harness)
    harness.clock.now = datetime(2026, 11, 23, 10, tzinfo=UTC)
    await harness.say(KIM, "hi")
    (reply,) = await harness.say(KIM, "stats")
    shown = texts(reply.card)
    assert "The register, 2026 so far" in shown and "Part year: 1 January to 23 November 2026" in shown
    # The keeper's own figures are real counts: two category one incidents are 2, not <5.
    assert "Category one (zero tolerance)\n2" in shown and "<5" not in shown.split("Real counts")[0]
    (image,) = [e for e in reply.card["body"] if e.get("type") == "Image"]
    assert image["url"].startswith("data:image/png;base64,")
    assert "Mar: 3" in image["altText"] and "Dec" not in image["altText"]  # the months so far
    LOOK.mkdir(parents=True, exist_ok=True)
    (LOOK / "stats-card-chart.png").write_bytes(base64.b64decode(image["url"].split(",", 1)[1]))
    await harness.say(SAM, "hi")
    (refused,) = await harness.say(SAM, "stats")
    assert "Only some roles may use" in refused.text


async def test_an_empty_year_says_so_rather_than_drawing_an_empty_axis(harness):
    await harness.import_roles(ROLES)
    harness.clock.now = datetime(2026, 2, 2, 10, tzinfo=UTC)
    await harness.say(KIM, "hi")
    (reply,) = await harness.say(KIM, "stats")
    assert "No incidents have been reported this year." in texts(reply.card)
    assert [e for e in reply.card["body"] if e.get("type") == "Image"] == []


def test_a_suppressed_count_is_drawn_as_suppressed_and_an_empty_chart_has_a_readable_axis():
    import matplotlib

    matplotlib.use("Agg")
    from PIL import Image

    from reporting.annual import chart_png
    from storage.statistics import Table

    table = Table("by_category", "Incidents by category", ("Category", "Count"), [("One", 2), ("Two", 7)])
    LOOK.mkdir(parents=True, exist_ok=True)
    (LOOK / "chart-suppressed.png").write_bytes(chart_png(table))
    (LOOK / "chart-real.png").write_bytes(chart_png(table, suppress=False))
    empty = Table("by_month", "Incidents by month", ("Month", "Count"), [("Jan", 0), ("Feb", 0)])
    (LOOK / "chart-empty.png").write_bytes(chart_png(empty))
    # The suppressed chart is hatched where the real one has a bar: pixels differ in that row.
    suppressed = Image.open(LOOK / "chart-suppressed.png").convert("L")
    real = Image.open(LOOK / "chart-real.png").convert("L")
    assert suppressed.size == real.size and suppressed.tobytes() != real.tobytes()


async def test_keepers_get_a_monthly_report_of_who_viewed_which_records(harness):
    await harness.import_roles(ROLES)
    for person in (AMY, KIM):
        await harness.say(person, "hi")
    (amy,) = await harness.rows(Person, Person.email == AMY.email)
    async with harness.sessions() as session:
        for day in (5, 6, 7):
            await audit.record(
                session,
                now=datetime(2026, 10, day, 10, tzinfo=UTC),
                actor_id=amy.id,
                action="customer.record_viewed",
                record_type="customer",
                record_id=12,
            )
        await audit.record(
            session,
            now=datetime(2026, 11, 1, 10, tzinfo=UTC),
            actor_id=amy.id,
            action="customer.record_viewed",
            record_type="customer",
            record_id=99,
        )
        await session.commit()
    services = harness.app[SERVICES]
    harness.clock.now = datetime(2026, 11, 2, 10, tzinfo=UTC)  # the first working day of November
    assert await register_reports.monthly_access_report(services) == 1
    assert await register_reports.monthly_access_report(services) == 0
    harness.connector.clear()
    await harness.deliver()
    (report,) = harness.connector.to(KIM.chat_id)
    shown = texts(report.card)
    assert "Who viewed customer records: October 2026" in shown
    assert "3 views: customer 12 ×3" in shown
    assert AMY.name in shown  # who viewed them, by name
    assert "customer 99" not in shown  # November's view is next month's


async def test_the_access_report_keeps_no_other_writer_waiting_while_it_looks_up_names(harness, monkeypatch):
    """On SQLite one transaction writes at a time: the report reads everything before it claims
    the month, so reports and decisions made meanwhile are not held up by it."""
    await harness.import_roles(ROLES)
    for person in (AMY, KIM):
        await harness.say(person, "hi")
    (amy,) = await harness.rows(Person, Person.email == AMY.email)
    october = datetime(2026, 10, 5, 10, tzinfo=UTC)
    async with harness.sessions() as session:
        await audit.record(
            session, now=october, actor_id=amy.id, action="customer.record_viewed", record_type="customer"
        )
        await session.commit()
    looked_up = decisions.names_of

    async def names_of_while_another_writes(session, person_ids):
        async with harness.sessions() as other:  # a decision, say, made at that moment
            await audit.record(other, now=october, actor_id=None, action="meanwhile", record_type="test")
            await asyncio.wait_for(other.commit(), timeout=5)
        return await looked_up(session, person_ids)

    monkeypatch.setattr(decisions, "names_of", names_of_while_another_writes)
    harness.clock.now = datetime(2026, 11, 2, 10, tzinfo=UTC)
    services = harness.app[SERVICES]
    assert await asyncio.wait_for(register_reports.monthly_access_report(services), timeout=10) == 1
    assert await harness.rows(AuditEvent, AuditEvent.action == "meanwhile")
