"""Writing the annual report: the same tables as HTML (charts embedded), PDF and CSV.

Counts from 1 to 4 could identify a person and are shown as "<5" everywhere they are published,
charts included; totals are never shown beside them in a way that would let a reader subtract.

matplotlib and reportlab are imported when a chart or PDF is made, not when the bot starts: they
add about 60 MB and half a second to a process that makes a report a few times a year.
"""

import base64
import csv
import html
import io
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from storage.statistics import Figures, Table

if TYPE_CHECKING:
    from reportlab.platypus import Table as PdfTable

SUPPRESSED = "<5"


def shown(value: int | str, *, suppress: bool = True) -> str:
    if suppress and isinstance(value, int) and 0 < value < 5:
        return SUPPRESSED
    return str(value)


def chart_png(table: Table, *, suppress: bool = True) -> bytes:
    """A bar chart of a table. Where counts are suppressed, a count from 1 to 4 is drawn as a
    hatched band from 0 to 5 labelled "<5", never as a bar of its own height or as nothing; the
    keeper's own chart (`suppress=False`) draws every count as it is."""
    import matplotlib

    matplotlib.use("Agg")  # no screen: render to memory
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    labels = [str(row[0]) for row in table.rows][::-1]
    values = [row[1] if isinstance(row[1], int) else 0 for row in table.rows][::-1]
    hidden = [suppress and 0 < v < 5 for v in values]
    heights = [0 if h else v for v, h in zip(values, hidden, strict=True)]
    figure, axis = plt.subplots(figsize=(7.5, max(2.4, 0.32 * len(labels) + 1)), dpi=110)
    bars = axis.barh(labels, heights, color="#00667A")
    axis.barh(
        labels, [5 if h else 0 for h in hidden], color="none", edgecolor="#00667A", hatch="///", linewidth=0.6
    )
    for bar, value, hide in zip(bars, values, hidden, strict=True):
        axis.text(
            5 if hide else bar.get_width(),
            bar.get_y() + bar.get_height() / 2,
            f" {shown(value, suppress=suppress)}",
            va="center",
            fontsize=8,
        )
    # Counts are whole numbers from 0: an empty table still has a readable axis, not -0.04 to 0.04.
    axis.set_xlim(0, max(5, *values, 1) * 1.15)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_title(table.title, fontsize=10, loc="left")
    axis.tick_params(labelsize=8)
    axis.spines[["top", "right"]].set_visible(False)
    if suppress and any(hidden):
        axis.set_xlabel("Hatched: a count from 1 to 4, shown as <5 so no one can be identified", fontsize=7)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    plt.close(figure)
    return out.getvalue()


def period(year: int, made: datetime) -> str:
    """The period the figures cover, a part year labelled as one."""
    if made.date() < date(year, 12, 31):
        return f"Part year: 1 January to {made.day} {made:%B %Y}"
    return f"1 January to 31 December {year}"


def _html(figures: Figures, council: str, charts: dict[str, bytes], made: datetime) -> str:
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Managing Customer Engagement: annual report {figures.year}</title>",
        "<style>body{font-family:Arial,sans-serif;max-width:60em;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #999;padding:.3em .6em}"
        "th{background:#e6f0f2;text-align:left}td.n{text-align:right}</style></head><body>",
        f"<h1>{html.escape(council)}: Managing Customer Engagement, annual report {figures.year}</h1>",
        f"<p><strong>{html.escape(period(figures.year, made))}</strong></p>",
        f"<p>Produced {made:%d %B %Y} from the restricted-access register. Counts from 1 to 4 are "
        f"shown as &lt;5 so that no person can be identified.</p>",
        "<h2>Summary</h2><table>",
        *(
            f"<tr><th>{html.escape(k)}</th><td class='n'>{html.escape(shown(v))}</td></tr>"
            for k, v in figures.headline.items()
        ),
        "</table>",
    ]
    for table in figures.tables:
        parts.append(f"<h2 id='{table.key}'>{html.escape(table.title)}</h2>")
        if table.key in charts:
            encoded = base64.b64encode(charts[table.key]).decode()
            parts.append(f"<img alt='{html.escape(table.title)}' src='data:image/png;base64,{encoded}'>")
        parts.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in table.headers) + "</tr>")
        for row in table.rows:
            parts.append(
                f"<tr><td>{html.escape(str(row[0]))}</td><td class='n'>{html.escape(shown(row[1]))}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _pdf(figures: Figures, council: str, charts: dict[str, bytes], made: datetime, path: Path) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, KeepTogether, Paragraph, SimpleDocTemplate, Spacer

    styles = getSampleStyleSheet()
    story = [
        Paragraph(
            f"{html.escape(council)}: Managing Customer Engagement, annual report {figures.year}",
            styles["Title"],
        ),
        Paragraph(f"<b>{html.escape(period(figures.year, made))}</b>", styles["Normal"]),
        Paragraph(
            f"Produced {made:%d %B %Y} from the restricted-access register. "
            "Counts from 1 to 4 are shown as &lt;5.",
            styles["Normal"],
        ),
        Spacer(1, 6 * mm),
        Paragraph("Summary", styles["Heading2"]),
        _pdf_table([("Measure", "Value"), *((k, shown(v)) for k, v in figures.headline.items())]),
    ]
    for table in figures.tables:
        # A table is kept whole, with its heading and chart, on one page.
        part = [Paragraph(html.escape(table.title), styles["Heading2"])]
        if table.key in charts:
            width, height = _size(charts[table.key])
            part.append(
                Image(io.BytesIO(charts[table.key]), width=170 * mm, height=170 * mm * height / width)
            )
        part.append(_pdf_table([table.headers, *((str(r[0]), shown(r[1])) for r in table.rows)]))
        story.append(KeepTogether(part))

    def numbered(canvas, document) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawCentredString(A4[0] / 2, 10 * mm, f"Annual report {figures.year} · Page {document.page}")
        canvas.restoreState()

    document = SimpleDocTemplate(str(path), pagesize=A4, title=f"Annual report {figures.year}")
    document.build(story, onFirstPage=numbered, onLaterPages=numbered)


def _size(png: bytes) -> tuple[int, int]:
    """A chart's width and height: charts are as tall as their rows need."""
    from reportlab.lib.utils import ImageReader

    return ImageReader(io.BytesIO(png)).getSize()


def _pdf_table(rows: list) -> "PdfTable":
    from reportlab.lib import colors
    from reportlab.lib.units import mm
    from reportlab.platypus import Table as PdfTable
    from reportlab.platypus import TableStyle

    table = PdfTable([list(r) for r in rows], hAlign="LEFT", colWidths=[120 * mm, 40 * mm], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e6f0f2")),
                ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
            ]
        )
    )
    return table


def write(
    figures: Figures, out: Path, *, council: str, made: datetime, previous: Figures | None = None
) -> list[Path]:
    """The committee paper in Word (compared with `previous`, the year before), and the figures as
    HTML, PDF and CSV."""
    from reporting import committee_paper

    out.mkdir(parents=True, exist_ok=True)
    charts = {t.key: chart_png(t) for t in figures.tables if t.chart}
    stem = f"annual-report-{figures.year}"
    written = [out / f"{stem}.html", out / f"{stem}.pdf"]
    written[0].write_text(_html(figures, council, charts, made), encoding="utf-8")
    _pdf(figures, council, charts, made, written[1])
    written.append(committee_paper.write(figures, previous, out, council=council, made=made, charts=charts))
    for table in figures.tables:
        path = out / f"{stem}-{table.key}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(table.headers)
            writer.writerows((row[0], shown(row[1])) for row in table.rows)
        written.append(path)
    return written
