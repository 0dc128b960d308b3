"""Filling a .docx template: `{{name}}` placeholders, whole-paragraph lists, large print."""

import copy
import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

# python-docx (with lxml) is loaded when a letter is made, not with the bot: most turns make none.
if TYPE_CHECKING:
    from docx.text.paragraph import Paragraph

PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
LARGE_PRINT_POINTS = 16  # RNIB: large print is 16 point or more
LARGE_HEADING_POINTS = 20

Value = str | Sequence[str]


def placeholders(template: Path) -> set[str]:
    from docx import Document

    document = Document(str(template))
    return {m.group(1) for p in _paragraphs(document) for m in PLACEHOLDER.finditer(p.text)}


def _paragraphs(document) -> "list[Paragraph]":
    found = list(document.paragraphs)
    for table in document.tables:
        for row in table.rows:
            for cell in row.cells:
                found.extend(cell.paragraphs)
    for section in document.sections:
        found.extend(section.header.paragraphs)
        found.extend(section.footer.paragraphs)
    return found


# Characters XML 1.0 cannot hold: python-docx refuses them, and a letter must still be made.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _set_text(paragraph: "Paragraph", text: str) -> None:
    text = _NOT_XML.sub("", text)
    # Word splits text into runs as it pleases; keep the first run's formatting for the whole.
    runs = paragraph.runs
    if not runs:
        paragraph.add_run(text)
        return
    runs[0].text = text
    for run in runs[1:]:
        run.text = ""


def _expand_list(paragraph: "Paragraph", items: Sequence[str]) -> None:
    """A paragraph that is only `{{name}}` becomes one paragraph per item, in its style."""
    from docx.text.paragraph import Paragraph

    if not items:
        paragraph._p.getparent().remove(paragraph._p)
        return
    _set_text(paragraph, items[0])
    anchor = paragraph._p
    for item in items[1:]:
        clone = copy.deepcopy(paragraph._p)
        anchor.addnext(clone)
        anchor = clone
        _set_text(Paragraph(clone, paragraph._parent), item)


def fill(template: Path, values: Mapping[str, Value], *, large_print: bool = False) -> bytes:
    from docx import Document

    document = Document(str(template))
    for paragraph in _paragraphs(document):
        text = paragraph.text
        whole = PLACEHOLDER.fullmatch(text.strip())
        if whole and not isinstance(values.get(whole.group(1), ""), str):
            _expand_list(paragraph, list(values[whole.group(1)]))
            continue
        if PLACEHOLDER.search(text):

            def value_of(match: re.Match[str]) -> str:
                value = values.get(match.group(1), "")
                return value if isinstance(value, str) else "; ".join(value)

            _set_text(paragraph, PLACEHOLDER.sub(value_of, text))
    if large_print:
        _enlarge(document)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _enlarge(document) -> None:
    from docx.shared import Pt

    large_print, large_headings = Pt(LARGE_PRINT_POINTS), Pt(LARGE_HEADING_POINTS)
    for style in document.styles:
        font = getattr(style, "font", None)
        if font is None:
            continue
        heading = style.name.lower().startswith(("heading", "title"))
        font.size = large_headings if heading else large_print
    for paragraph in _paragraphs(document):
        heading = (
            (paragraph.style.name if paragraph.style is not None else "")
            .lower()
            .startswith(("heading", "title"))
        )
        for run in paragraph.runs:
            run.font.size = large_headings if heading else large_print
