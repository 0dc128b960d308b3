"""Filling a council's Word template: Jinja inside Word (docxtpl), so the council's own formatting,
letterhead and wording stay as they made them; large print on request."""

import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

LARGE_PRINT_POINTS = 16  # RNIB: large print is 16 point or more
LARGE_HEADING_POINTS = 20
LOGO_WIDTH_MM = 35

# Characters XML 1.0 cannot hold, and the controls docxtpl reads as layout (\a a new paragraph,
# \f a page break): text from the register is text in the letter, nothing more.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return _NOT_XML.sub("", value)
    if isinstance(value, Mapping):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def template_fields(template: Path) -> set[str]:
    """The names a template uses (its Jinja variables, top level)."""
    from docxtpl import DocxTemplate

    return set(DocxTemplate(str(template)).get_undeclared_template_variables())


def render(
    template: Path, context: Mapping[str, Any], *, large_print: bool = False, logo: Path | None = None
) -> bytes:
    # docxtpl (with python-docx and lxml) is loaded when a letter is made, not with the bot.
    from docx.shared import Mm
    from docxtpl import DocxTemplate, InlineImage

    document = DocxTemplate(str(template))
    values = _clean(dict(context))
    values["logo"] = InlineImage(document, str(logo), width=Mm(LOGO_WIDTH_MM)) if logo else ""
    # Autoescape: a customer's name or a reason holding markup is printed, not obeyed.
    document.render(values, autoescape=True)
    if large_print:
        _enlarge(document.docx)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _paragraphs(document) -> list:
    found = list(document.paragraphs)
    for table in document.tables:
        for row in table.rows:
            for cell in row.cells:
                found.extend(cell.paragraphs)
    for section in document.sections:
        found.extend(section.header.paragraphs)
        found.extend(section.footer.paragraphs)
    return found


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
        name = paragraph.style.name if paragraph.style is not None else ""
        heading = name.lower().startswith(("heading", "title"))
        for run in paragraph.runs:
            run.font.size = large_headings if heading else large_print
