"""Write the default letter templates. A council edits the .docx files in Word afterwards;
run this only to start again from the defaults: `python -m letters.make_templates`."""

from pathlib import Path

from docx import Document
from docx.shared import Pt

TEMPLATES = Path(__file__).parent / "templates"


def decision_template(path: Path) -> None:
    document = Document()
    document.styles["Normal"].font.name = "Arial"
    document.styles["Normal"].font.size = Pt(12)
    document.add_paragraph("{{council_name}}")
    document.add_paragraph("Our reference: {{reference}}")
    document.add_paragraph("Date: {{date}}")
    document.add_paragraph("{{customer_name}}")
    document.add_paragraph("{{customer_address}}")
    document.add_heading("{{title}}", level=1)
    document.add_paragraph("Dear {{customer_name}},")
    document.add_paragraph("{{opening}}")
    document.add_heading("Why we have made this decision", level=2)
    document.add_paragraph("{{why}}")
    document.add_heading("What we will do", level=2)
    document.add_paragraph("{{what_action}}", style="List Bullet")
    document.add_heading("How long this will last", level=2)
    document.add_paragraph("{{how_long}}", style="List Bullet")
    document.add_heading("How to appeal", level=2)
    document.add_paragraph("{{appeal}}")
    document.add_heading("Who we share this with and where it is recorded", level=2)
    document.add_paragraph("{{shared_with}}")
    document.add_paragraph("{{recorded_where}}")
    document.add_heading("Other formats", level=2)
    document.add_paragraph("{{formats}}")
    document.add_paragraph("Yours sincerely,")
    document.add_paragraph("{{signatory}}")
    document.save(str(path))


if __name__ == "__main__":
    TEMPLATES.mkdir(exist_ok=True)
    decision_template(TEMPLATES / "decision.docx")
    print(f"written {TEMPLATES / 'decision.docx'}")
