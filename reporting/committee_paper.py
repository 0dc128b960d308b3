"""The annual report as the committee paper a council tables: executive summary, recommendations,
background, main report (the figures, compared with the year before), measures of success,
financial, risk, equalities and sustainability impact, consultation, background reading and
contacts. What only the council can write is left as highlighted text in square brackets, to be
written over in Word; the figures are filled in from the register, small counts suppressed.

python-docx is imported when the paper is made, not when the bot starts.
"""

import io
from datetime import datetime
from pathlib import Path

from reporting.annual import SUPPRESSED, period, shown
from storage.statistics import Figures, Table

TITLE = "Managing Customer Engagement – annual report {year}"
FOR_THE_COUNCIL = "[{}]"  # highlighted: the council writes over it


def _change(now: int | str, before: int | str) -> str:
    """How a count moved from last year, in words; nothing where either is suppressed or not a count."""
    if not (isinstance(now, int) and isinstance(before, int)):
        return ""
    if shown(now) == SUPPRESSED or shown(before) == SUPPRESSED:
        return "not shown (small numbers)"
    if now == before:
        return "no change"
    return f"{'up' if now > before else 'down'} {abs(now - before)}"


def summary_sentence(figures: Figures, previous: Figures | None) -> str:
    headline = figures.headline
    said = (
        f"In {figures.year} staff reported {shown(headline['Incidents'])} incidents of unacceptable "
        f"customer engagement"
    )
    if previous is not None:
        said += f" ({_change(headline['Incidents'], previous.headline['Incidents'])} on {previous.year})"
    said += (
        f". Managers took {shown(headline['Decisions'])} decisions, applying "
        f"{shown(headline['Restrictions applied'])} restrictions, and customers made "
        f"{shown(headline['Appeals'])} appeals. The median time from report to decision was "
        f"{headline['Median time to decision']}."
    )
    return said


class _Paper:
    """A Word document with the paper's numbering: section n, paragraphs n.1, n.2..."""

    def __init__(self) -> None:
        from docx import Document
        from docx.shared import Mm, Pt

        self.document = Document()
        section = self.document.sections[0]
        section.page_width, section.page_height = Mm(210), Mm(297)  # A4
        section.left_margin = section.right_margin = Mm(22)
        normal = self.document.styles["Normal"]
        normal.font.name, normal.font.size = "Arial", Pt(11)
        for level in (1, 2):
            self.document.styles[f"Heading {level}"].font.name = "Arial"
        self.section = 0
        self.number = 0
        self._page_numbers()

    def _page_numbers(self) -> None:
        from docx.enum.text import WD_ALIGN_PARAGRAPH
        from docx.oxml import OxmlElement
        from docx.oxml.ns import qn

        footer = self.document.sections[0].footer.paragraphs[0]
        footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
        footer.add_run("Page ")
        for code, after in (("PAGE", " of "), ("NUMPAGES", "")):
            run = footer.add_run()
            begin, instruction, end = (
                OxmlElement("w:fldChar"),
                OxmlElement("w:instrText"),
                OxmlElement("w:fldChar"),
            )
            begin.set(qn("w:fldCharType"), "begin")
            instruction.set(qn("xml:space"), "preserve")
            instruction.text = f" {code} "
            end.set(qn("w:fldCharType"), "end")
            run._r.extend([begin, instruction, end])
            if after:
                footer.add_run(after)

    def heading(self, text: str, *, numbered: bool = True) -> None:
        if numbered:
            self.section += 1
            self.number = 0
        self.document.add_heading(text, level=2)

    def para(self, text: str, *, council: bool = False) -> None:
        """A numbered paragraph; `council`: text only the council can write, highlighted."""
        from docx.enum.text import WD_COLOR_INDEX

        self.number += 1
        paragraph = self.document.add_paragraph(f"{self.section}.{self.number}\t")
        run = paragraph.add_run(FOR_THE_COUNCIL.format(text) if council else text)
        if council:
            run.font.highlight_color = WD_COLOR_INDEX.YELLOW

    def plain(self, text: str, *, council: bool = False, bold: bool = False) -> None:
        from docx.enum.text import WD_COLOR_INDEX

        run = self.document.add_paragraph().add_run(FOR_THE_COUNCIL.format(text) if council else text)
        run.bold = bold
        if council:
            run.font.highlight_color = WD_COLOR_INDEX.YELLOW

    def table(self, headers: tuple[str, ...], rows: list[tuple[str, ...]], title: str | None = None) -> None:
        """A table kept whole on one page: rows never split, each row kept with the next."""
        from docx.oxml import OxmlElement

        if title:
            caption = self.document.add_paragraph()
            caption.add_run(title).bold = True
            caption.paragraph_format.keep_with_next = True
        table = self.document.add_table(rows=1 if any(headers) else 0, cols=len(headers))
        table.style = "Table Grid"
        if any(headers):
            for cell, header in zip(table.rows[0].cells, headers, strict=True):
                cell.text = header
                cell.paragraphs[0].runs[0].bold = True
        for row in rows:
            cells = table.add_row().cells
            for cell, value in zip(cells, row, strict=True):
                cell.text = value
        for index, row in enumerate(table.rows):
            properties = row._tr.get_or_add_trPr()
            cant_split = OxmlElement("w:cantSplit")
            properties.append(cant_split)
            if index == 0 and any(headers):
                header = OxmlElement("w:tblHeader")
                properties.append(header)
            if index < len(table.rows) - 1:
                for cell in row.cells:
                    for paragraph in cell.paragraphs:
                        paragraph.paragraph_format.keep_with_next = True
        self.document.add_paragraph()

    def chart(self, png: bytes) -> None:
        from docx.shared import Mm

        picture = self.document.add_paragraph()
        picture.paragraph_format.keep_with_next = True
        picture.add_run().add_picture(io.BytesIO(png), width=Mm(160))

    def bytes(self) -> bytes:
        out = io.BytesIO()
        self.document.save(out)
        return out.getvalue()


def _rows(table: Table) -> list[tuple[str, str]]:
    return [(str(row[0]), shown(row[1])) for row in table.rows]


def paper_docx(
    figures: Figures, previous: Figures | None, *, council: str, made: datetime, charts: dict[str, bytes]
) -> bytes:
    paper = _Paper()
    document = paper.document
    paper.plain("Committee name", council=True, bold=True)
    paper.plain("Time and date of the meeting", council=True)
    document.add_heading(TITLE.format(year=figures.year), level=1)
    paper.plain(
        f"{council} · {period(figures.year, made)} · produced {made.day} {made:%B %Y} from the register"
    )
    paper.table(
        ("", ""),
        [
            ("Item number", "[ ]"),
            ("Report number", "[ ]"),
            ("Executive/routine", "[Executive or routine]"),
            ("Wards", "All"),
        ],
    )

    paper.heading("Executive summary", numbered=False)
    paper.plain(summary_sentence(figures, previous))
    paper.plain(
        "The purpose of this report is to tell committee how the Managing Customer Engagement Policy "
        "has been used, what it has achieved for staff and customers, and what is planned next."
    )
    paper.plain("Add the main messages for committee: what went well, what needs attention.", council=True)

    paper.heading("Recommendations")
    paper.para(
        f"It is recommended that committee note the use of the Managing Customer Engagement Policy in "
        f"{figures.year}, as set out in this report."
    )
    paper.para("Add any further recommendation, such as changes to the policy or training.", council=True)

    paper.heading("Background")
    paper.para(
        "The Managing Customer Engagement Policy sets out how the council responds when a customer's "
        "behaviour is unacceptable: restorative approaches first, active management where behaviour "
        "continues, and action by the police or legal action where it is serious. Customers can appeal, "
        "and restrictions are reviewed regularly."
    )
    paper.para(
        "Every incident, decision, restriction, review and appeal is recorded on a secure, "
        "restricted-access register, from which the figures in this report are counted."
    )
    paper.para("Add when the policy was approved and by which committee.", council=True)

    paper.heading("Main report")
    paper.para(
        f"The figures below cover {period(figures.year, made).lower()}. Counts from 1 to 4 are shown as "
        f"{SUPPRESSED} so that no person can be identified; on charts they are drawn as a hatched band."
    )
    comparison = [
        (
            name,
            shown(value),
            shown(previous.headline.get(name, "")) if previous is not None else "",
            _change(value, previous.headline.get(name, "")) if previous is not None else "",
        )
        for name, value in figures.headline.items()
    ]
    before = str(previous.year) if previous is not None else "Last year"
    paper.table(
        ("Measure", str(figures.year), before, "Change"),
        comparison,
        f"Year on year: {figures.year} and {before}",
    )
    for table in figures.tables:
        paper.number += 1
        heading = document.add_paragraph()
        heading.add_run(f"{paper.section}.{paper.number}\t{table.title}").bold = True
        heading.paragraph_format.keep_with_next = True
        if table.key in charts:
            paper.chart(charts[table.key])
        paper.table(table.headers, _rows(table))
    paper.para("Add what the figures show: trends, services most affected, lessons learned.", council=True)

    paper.heading("Measures of success")
    restorative = dict(_rows(figures.table("restorative")))
    reviews = dict(_rows(figures.table("reviews")))
    paper.para(
        f"Restorative approaches: the customer was not reported again after "
        f"{restorative.get('Not reported again', '0')} of them."
    )
    paper.para(
        f"Reviews of restrictions: {reviews.get('Done on time', '0')} done on time, "
        f"{reviews.get('Done late', '0')} late, "
        f"{reviews.get('Overdue at year end', '0')} overdue at year end."
    )
    paper.para("Add feedback from managers, staff and customers.", council=True)

    paper.heading("Financial impact")
    paper.para("Costs have been met from within existing budgets.")
    paper.para("Confirm, or set out any costs or savings.", council=True)

    paper.heading("Risk, policy, compliance and governance impact")
    paper.para(
        "The policy protects staff and other customers while keeping each customer's right to appeal "
        "and to take a complaint to the Scottish Public Services Ombudsman. Restrictions are reviewed "
        "and lifted when engagement improves."
    )
    paper.para("Add any risks identified, such as overdue reviews or appeals out of time.", council=True)

    paper.heading("Equalities impact")
    paper.para(
        "The register keeps only what the policy needs and holds no protected characteristics. It does "
        "record whether support needs, reasonable adjustments, an advocate or an accessible format were "
        "considered, shown below."
    )
    paper.table(figures.table("equalities").headers, _rows(figures.table("equalities")))
    paper.para("Add the findings of the equality impact assessment.", council=True)

    paper.heading("Sustainability impact")
    paper.para("No significant environmental impact is anticipated.")
    paper.para("Confirm, or set out any sustainability impact.", council=True)

    paper.heading("Consultation and engagement")
    paper.para("Add who was consulted on the use of the policy and this report.", council=True)

    paper.heading("Background reading/external references", numbered=False)
    paper.plain("Managing Customer Engagement Policy, " + council)
    paper.plain("Model Complaints Handling Procedure, Scottish Public Services Ombudsman")

    paper.heading("Contacts", numbered=False)
    paper.plain("Name, job title", council=True)
    paper.plain("Email · telephone", council=True)
    return paper.bytes()


def write(
    figures: Figures,
    previous: Figures | None,
    out: Path,
    *,
    council: str,
    made: datetime,
    charts: dict[str, bytes],
) -> Path:
    path = out / f"annual-report-{figures.year}.docx"
    path.write_bytes(paper_docx(figures, previous, council=council, made=made, charts=charts))
    return path
