"""Write the default letter templates, one for each kind of letter. A council edits the .docx files
in Word afterwards (the `{{ ... }}` fields and `{%p if ... %}` lines are Jinja, kept by docxtpl);
run this only to start again from the defaults: `python -m letters.make_templates [folder]`."""

import sys
from collections.abc import Sequence
from pathlib import Path

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from letters.content import TEMPLATE_NAMES, TEMPLATES

# A block is ("h", heading), ("p", text), ("b", bullet), ("if", condition, blocks) or
# ("for", "item in items", blocks).
Block = tuple

APPEAL = [("if", "appeal", [("h", "If you disagree"), ("p", "{{ appeal }}")])]
SPSO = [("if", "spso", [("h", "The Scottish Public Services Ombudsman"), ("p", "{{ spso }}")])]
WHY = [("h", "Why"), ("p", "{{ explanation }}")]
ARRANGEMENTS = [
    ("for", "r in restrictions", [("b", "{{ r.what }}: {{ r.details }}")]),
    ("if", "emergency", [("p", "{{ emergency }}")]),
    ("if", "closed_matter", [("p", "{{ closed_matter }}")]),
]
HOW_LONG = [("h", "How long this will last"), ("for", "r in restrictions", [("b", "{{ r.how_long }}")])]
SHARING = [("h", "Who we share this with and where it is recorded"), ("p", "{{ sharing }}")]
NO_LONGER = [("for", "r in lifted", [("b", "{{ r.what }}: {{ r.details }}")])]

BODIES: dict[str, list[Block]] = {
    "restorative_approach": [
        (
            "p",
            "We are writing about your recent contact with our {{ service_area }} service. We want "
            "everyone who contacts us to be able to do so positively, and our staff to be able to help you.",
        ),
        ("h", "What happened"),
        ("p", "{{ explanation }}"),
        ("if", "steps", [("h", "What we have done"), ("for", "step in steps", [("b", "{{ step }}")])]),
        ("if", "adjustments", [("h", "Support we can offer you"), ("p", "{{ adjustments }}")]),
        ("if", "signposting", [("h", "Independent advice and support"), ("p", "{{ signposting }}")]),
        ("h", "What happens next"),
        (
            "p",
            "This is not a restriction: you can keep contacting us in the usual ways. We hope this "
            "letter helps us work well together. If the behaviour continues, we may have to decide "
            "how you can contact us under our Managing Customer Engagement Policy.",
        ),
        (
            "if",
            "follow_up_on",
            [("p", "We will be in touch again on or after {{ follow_up_on }} to see how things are going.")],
        ),
        *APPEAL,
    ],
    "active_management": [
        (
            "p",
            "We are writing to tell you about a decision we have made, under our Managing Customer "
            "Engagement Policy, about how you can contact us.",
        ),
        ("h", "Why we have made this decision"),
        ("p", "{{ explanation }}"),
        ("h", "What this means for you"),
        *ARRANGEMENTS,
        *HOW_LONG,
        *APPEAL,
        *SHARING,
    ],
    "police_or_legal": [
        (
            "p",
            "We are writing to tell you about action we have taken under our Managing Customer "
            "Engagement Policy.",
        ),
        ("h", "Why we have taken this action"),
        ("p", "{{ explanation }}"),
        ("h", "What we have done"),
        (
            "if",
            "police_told",
            [
                (
                    "p",
                    "We have reported what happened to the police and given them the information they need.",
                ),
                ("if", "police_reference", [("p", "The police reference is {{ police_reference }}.")]),
            ],
        ),
        (
            "if",
            "legal_action",
            [
                (
                    "p",
                    "We have asked our legal service to take legal action about what happened. They will "
                    "write to you separately about it.",
                ),
            ],
        ),
        ("if", "restrictions", [("h", "How you can contact us"), *ARRANGEMENTS, *HOW_LONG]),
        *APPEAL,
        *SHARING,
    ],
    "continuation": [
        (
            "p",
            "We have reviewed the arrangements for how you contact us, as we said we would. We have "
            "decided that they need to continue.",
        ),
        ("h", "What continues"),
        *ARRANGEMENTS,
        *WHY,
        ("h", "The next review"),
        (
            "if",
            "next_review_on",
            [
                (
                    "p",
                    "We will review the arrangements again by {{ next_review_on }} and write to you "
                    "with the outcome.",
                )
            ],
        ),
        (
            "if",
            "not next_review_on",
            [
                (
                    "p",
                    "The arrangements will not be routinely reviewed again. You can ask us to look at "
                    "them again at any time.",
                )
            ],
        ),
        *APPEAL,
        *SHARING,
    ],
    "variation": [
        (
            "p",
            "We have reviewed the arrangements for how you contact us under our Managing Customer "
            "Engagement Policy, and we have changed them. This letter sets out the new arrangements, "
            "which replace the ones we told you about before.",
        ),
        ("h", "The new arrangements"),
        *ARRANGEMENTS,
        *WHY,
        *HOW_LONG,
        *APPEAL,
        *SHARING,
    ],
    "lifted": [
        (
            "p",
            "We have reviewed the arrangements for how you contact us under our Managing Customer "
            "Engagement Policy. We are pleased to tell you that we have ended them.",
        ),
        ("h", "What no longer applies"),
        *NO_LONGER,
        ("p", "From {{ date }} you can contact us in the usual ways. Thank you for working with us."),
        ("if", "explanation", [("h", "Why"), ("p", "{{ explanation }}")]),
        ("h", "Our records"),
        (
            "p",
            "We keep a record of the arrangements and of this decision on our secure register, which "
            "only the staff who need it can see.",
        ),
    ],
    "reinstatement": [
        (
            "p",
            "We wrote to you before about arrangements for how you contact us, which we later ended. "
            "Unfortunately we have had to put them back in place. This letter explains why and what applies.",
        ),
        *WHY,
        ("h", "What applies again"),
        *ARRANGEMENTS,
        *HOW_LONG,
        *APPEAL,
        *SHARING,
    ],
    "appeal_outcome_review_group": [
        (
            "p",
            "You appealed against a decision we made under our Managing Customer Engagement Policy. "
            "The Complaints Review Group has considered your appeal. This letter tells you the outcome "
            "and the reasons for it.",
        ),
        ("h", "The outcome"),
        ("p", "{{ outcome }}"),
        ("h", "The reasons"),
        ("p", "{{ explanation }}"),
        ("if", "restrictions", [("h", "What applies now"), *ARRANGEMENTS, *HOW_LONG]),
        (
            "if",
            "overturned",
            [("h", "What no longer applies"), *NO_LONGER, ("p", "You can contact us in the usual ways.")],
        ),
        *APPEAL,
        *SPSO,
        ("if", "told_staff", [("h", "Who we share this with"), ("p", "{{ told_staff }}")]),
    ],
    "appeal_outcome_chief_executive": [
        (
            "p",
            "You appealed to the Chief Executive against the Complaints Review Group's decision on your "
            "appeal. The Chief Executive has considered it. This letter tells you the outcome and the "
            "reasons for it.",
        ),
        ("h", "The outcome"),
        ("p", "{{ outcome }}"),
        ("h", "The reasons"),
        ("p", "{{ explanation }}"),
        ("if", "restrictions", [("h", "What applies now"), *ARRANGEMENTS, *HOW_LONG]),
        (
            "if",
            "overturned",
            [("h", "What no longer applies"), *NO_LONGER, ("p", "You can contact us in the usual ways.")],
        ),
        ("p", "This was the last stage of appeal within the council."),
        *SPSO,
        ("if", "told_staff", [("h", "Who we share this with"), ("p", "{{ told_staff }}")]),
    ],
    "complaint_stage_1": [
        (
            "p",
            "You complained about action a member of our staff took when dealing with you. This is "
            "our response at Stage 1 (frontline response) of our complaints handling procedure.",
        ),
        ("h", "Our decision"),
        ("p", "{{ outcome }}"),
        ("h", "The reasons"),
        ("p", "{{ explanation }}"),
        ("if", "appeal", [("h", "If you remain dissatisfied"), ("p", "{{ appeal }}")]),
        *SPSO,
    ],
    "complaint_stage_2": [
        (
            "p",
            "You asked us to look again at your complaint about action a member of our staff took "
            "when dealing with you. This is our response at Stage 2 (investigation), the last stage of "
            "our complaints handling procedure.",
        ),
        ("h", "Our decision"),
        ("p", "{{ outcome }}"),
        ("h", "The reasons"),
        ("p", "{{ explanation }}"),
        *SPSO,
    ],
    "appeal_not_heard_elected_member": [
        (
            "p",
            "You asked us to look again at action taken under our Managing Customer Engagement Policy. "
            "We have recorded your request.",
        ),
        ("h", "Why we cannot consider it as an appeal"),
        ("p", "{{ not_heard }}"),
        ("h", "Where else you can go"),
        ("p", "{{ councillor_conduct }}"),
        *SPSO,
    ],
    "appeal_not_heard": [
        (
            "p",
            "You asked us to look again at a decision under our Managing Customer Engagement Policy. "
            "We have recorded your request.",
        ),
        ("h", "Why we cannot consider it again"),
        ("p", "{{ not_heard }}"),
        *SPSO,
    ],
}
COMMON_END: list[Block] = [
    ("h", "Your information"),
    ("p", "{{ privacy }}"),
    ("h", "This letter in another format"),
    ("p", "{{ formats }}"),
]


def _field(paragraph, code: str) -> None:
    """A Word field (PAGE, NUMPAGES) Word and LibreOffice fill in as they lay out the pages."""
    run = paragraph.add_run()
    begin, instruction, end = OxmlElement("w:fldChar"), OxmlElement("w:instrText"), OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    instruction.set(qn("xml:space"), "preserve")
    instruction.text = f" {code} "
    end.set(qn("w:fldCharType"), "end")
    run._r.extend([begin, instruction, end])


def _letterhead(document) -> None:
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)  # A4
    section.left_margin = section.right_margin = Mm(25)
    section.top_margin, section.bottom_margin = Mm(20), Mm(20)
    # The letterhead heads the first page; the footer numbers every page.
    section.different_first_page_header_footer = True
    header = section.first_page_header
    lines = [("if", "logo", [("p", "{{ logo }}")]), ("name", "{{ council_name }}")]
    labels = {"address": "", "phone": "Telephone ", "email": "Email ", "web": ""}
    lines += [
        ("if", f"council_{part}", [("p", f"{label}{{{{ council_{part} }}}}")])
        for part, label in labels.items()
    ]
    first = header.paragraphs[0]
    for kind, *rest in lines:
        if kind == "name":
            paragraph = header.add_paragraph()
            paragraph.add_run(rest[0]).bold = True
            paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            continue
        condition, ((_, text),) = rest
        for line in (f"{{%p if {condition} %}}", text, "{%p endif %}"):
            header.add_paragraph(line).alignment = WD_ALIGN_PARAGRAPH.RIGHT
    first._p.getparent().remove(first._p)  # the header's own empty first line
    for footer in (section.first_page_footer.paragraphs[0], section.footer.paragraphs[0]):
        footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
        footer.add_run("Our reference {{ reference }} · Page ")
        _field(footer, "PAGE")
        footer.add_run(" of ")
        _field(footer, "NUMPAGES")


def _labelled(document, label: str, value: str) -> None:
    paragraph = document.add_paragraph()
    paragraph.add_run(label).bold = True
    paragraph.add_run(value)


def _blocks(document, blocks: Sequence[Block]) -> None:
    for block in blocks:
        match block:
            case ("h", text):
                document.add_heading(text, level=2)
            case ("p", text):
                document.add_paragraph(text)
            case ("b", text):
                document.add_paragraph(text, style="List Bullet")
            case ("if", condition, inner):
                document.add_paragraph(f"{{%p if {condition} %}}")
                _blocks(document, inner)
                document.add_paragraph("{%p endif %}")
            case ("for", loop, inner):
                document.add_paragraph(f"{{%p for {loop} %}}")
                _blocks(document, inner)
                document.add_paragraph("{%p endfor %}")


def letter_template(path: Path, name: str) -> None:
    document = Document()
    normal = document.styles["Normal"]
    normal.font.name, normal.font.size = "Arial", Pt(12)
    normal.paragraph_format.space_after = Pt(6)
    for level in (1, 2):
        heading = document.styles[f"Heading {level}"]
        heading.font.name = "Arial"
        heading.font.size = Pt(16 if level == 1 else 13)
    _letterhead(document)
    _labelled(document, "Our reference: ", "{{ reference }}")
    _labelled(document, "Date: ", "{{ date }}")
    document.add_paragraph("{{ customer_name }}\n{{ customer_address }}")
    document.add_heading("{{ title }}", level=1)
    document.add_paragraph("Dear {{ customer_name }},")
    _blocks(document, [*BODIES[name], *COMMON_END])
    document.add_paragraph("Yours sincerely,")
    document.add_paragraph("{%p if sign_name %}")
    document.add_paragraph("{{ sign_name }}")
    document.add_paragraph("{%p endif %}")
    document.add_paragraph().add_run("{{ sign_role }}").bold = True
    document.add_paragraph("{{ council_name }}")
    document.save(str(path))


def write_all(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in TEMPLATE_NAMES:
        letter_template(folder / f"{name}.docx", name)
        written.append(folder / f"{name}.docx")
    return written


if __name__ == "__main__":
    for path in write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else TEMPLATES):
        print(f"written {path}")
