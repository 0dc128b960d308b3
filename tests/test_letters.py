"""Every kind of letter, opened as the customer (or their solicitor) would read it: in Word and as
the printed page. The pages are also drawn to images in build/look/letters for a person to look."""

import io
import re
import shutil
import subprocess
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from docx import Document
from pypdf import PdfReader

import letters
from letters.content import (
    TEMPLATE_NAMES,
    DecisionLetter,
    LetterSettings,
    RestrictionLine,
    letter_docx,
    template_name,
    template_problems,
)
from letters.make_templates import letter_template
from policy.appeals import NotHeard
from policy.decisions import (
    AppealOutcome,
    AppealRoute,
    DecisionKind,
    LetterKind,
    RestorativeStep,
    RestrictionType,
)

LOOK = Path(__file__).parents[1] / "build" / "look" / "letters"
SETTINGS = LetterSettings(
    council_name="Scottish Borders Council",
    address="Council Headquarters\nNewtown St Boswells\nMelrose TD6 0SA",
    phone="0300 100 1800",
    email="customer.engagement@scotborders.example",
    web="www.scotborders.gov.uk",
)
CHANNELS = RestrictionLine(
    RestrictionType.CONTACT_CHANNELS,
    "Email housing.contact@council.example only.",
    date(2026, 11, 23),
    None,
    date(2027, 5, 23),
)
PROTECT = RestrictionLine(
    RestrictionType.PROTECT_STAFF,
    "Write to the Housing team's mailbox, housing.team@council.example.",
    date(2026, 11, 23),
    date(2027, 11, 22),
    date(2027, 5, 23),
)
INTERNAL = "Customer is a known vexatious caller; Amy thinks he is drunk on Fridays."
TOLD = "On 12 and 16 November you phoned the housing office more than thirty times."
BASE = DecisionLetter(
    reference="INC-2026-00001",
    letter_date=date(2026, 11, 23),
    customer_name="Pat Jones",
    customer_address="1 High Street\nMelrose TD6 9PA",
    kind=DecisionKind.ACTIVE_MANAGEMENT,
    explanation=TOLD,
    service_area="Housing",
    council_wide=False,
    appeal_route=AppealRoute.COMPLAINTS_REVIEW_GROUP,
    appeal_by=date(2026, 12, 22),
    signer_name="Amy Manager",
    signer_role="Manager, Housing",
    signer_team="Housing Management Team",
    restrictions=(CHANNELS,),
)
NO_APPEAL = {"appeal_route": None, "appeal_by": None}
LETTERS: dict[str, DecisionLetter] = {
    "restorative_approach": replace(
        BASE,
        kind=DecisionKind.RESTORATIVE_APPROACH,
        restrictions=(),
        restorative_steps=tuple(RestorativeStep),
        reasonable_adjustments="We can arrange appointments by phone at a time that suits you.",
        signposting="Citizens Advice Scotland, 0800 028 1456.",
        follow_up_on=date(2027, 1, 5),
    ),
    "active_management": BASE,
    "police_or_legal": replace(
        BASE,
        kind=DecisionKind.POLICE_OR_LEGAL,
        restrictions=(),
        police_told=True,
        police_reference="PS-2026-1",
    ),
    "continuation": replace(
        BASE, letter_kind=LetterKind.CONTINUATION, next_review_on=date(2027, 11, 23), restrictions=(PROTECT,)
    ),
    "variation": replace(BASE, letter_kind=LetterKind.VARIATION),
    "lifted": replace(BASE, letter_kind=LetterKind.LIFTED, restrictions=(), lifted=(CHANNELS,), **NO_APPEAL),
    "reinstatement": replace(BASE, letter_kind=LetterKind.REINSTATEMENT),
    "appeal_outcome_review_group": replace(
        BASE,
        letter_kind=LetterKind.APPEAL_OUTCOME,
        heard_by=AppealRoute.COMPLAINTS_REVIEW_GROUP,
        appeal_outcome=AppealOutcome.UPHELD,
        restrictions=(),
        lifted=(CHANNELS,),
        signer_name="Ceri Panel",
        signer_role="for the Complaints Review Group",
        signer_team="The Complaints Review Group",
        **NO_APPEAL,
    ),
    "appeal_outcome_chief_executive": replace(
        BASE,
        letter_kind=LetterKind.APPEAL_OUTCOME,
        heard_by=AppealRoute.CHIEF_EXECUTIVE,
        appeal_outcome=AppealOutcome.NOT_UPHELD,
        signer_name="Chris Chief",
        signer_role="Chief Executive",
        signer_team="Chief Executive",
        **NO_APPEAL,
    ),
    "complaint_stage_1": replace(
        BASE,
        letter_kind=LetterKind.APPEAL_OUTCOME,
        heard_by=AppealRoute.COMPLAINTS_PROCEDURE,
        complaint_stage=1,
        appeal_outcome=AppealOutcome.NOT_UPHELD,
        appeal_route=AppealRoute.COMPLAINTS_PROCEDURE,
        appeal_by=date(2027, 5, 23),
        restrictions=(),
    ),
    "complaint_stage_2": replace(
        BASE,
        letter_kind=LetterKind.APPEAL_OUTCOME,
        heard_by=AppealRoute.COMPLAINTS_PROCEDURE,
        complaint_stage=2,
        appeal_outcome=AppealOutcome.PARTLY_UPHELD,
        restrictions=(),
        **NO_APPEAL,
    ),
    "appeal_not_heard_elected_member": replace(
        BASE,
        letter_kind=LetterKind.APPEAL_NOT_HEARD,
        not_heard=NotHeard.ELECTED_MEMBER,
        explanation="",
        restrictions=(),
        **NO_APPEAL,
    ),
    "appeal_not_heard": replace(
        BASE,
        letter_kind=LetterKind.APPEAL_NOT_HEARD,
        not_heard=NotHeard.CHIEF_EXECUTIVE,
        explanation="",
        restrictions=(),
        **NO_APPEAL,
    ),
}
# What each letter must say, and what it must not (a section that does not apply).
SAYS = {
    "restorative_approach": [
        "We talked with you about how you have been contacting us.",
        "We explained why this concerns us.",
        "This is not a restriction",
        "on or after 5 January 2027",
        "Citizens Advice Scotland",
        "considered by the Complaints Review Group",
        "by 22 December 2026",
    ],
    "active_management": [
        "You may contact us only in the ways set out here: Email housing.contact@council.example only.",
        "None of this stops you contacting us in an emergency.",
        "We will review this by 23 May 2027",
        "considered by the Complaints Review Group",
        "by 22 December 2026 (20 working days from the date of this letter)",
        "Staff in Housing who may deal with you are told",
    ],
    "police_or_legal": [
        "We have reported what happened to the police",
        "The police reference is PS-2026-1.",
        "We have shared the information about what happened with the police.",
        "considered by the Complaints Review Group",
    ],
    "continuation": [
        "decided that they need to continue",
        "What continues",
        "We will review the arrangements again by 23 November 2027",
        "considered by the Complaints Review Group",
        "by 22 December 2026",
    ],
    "variation": ["we have changed them", "The new arrangements", "by 22 December 2026"],
    "lifted": ["What no longer applies", "Email housing.contact@council.example only.", "usual ways"],
    "reinstatement": ["put them back in place", "What applies again", "by 22 December 2026"],
    "appeal_outcome_review_group": [
        "We have upheld your appeal. We have overturned the decision you appealed against.",
        "What no longer applies",
        "Scottish Public Services Ombudsman",
        "within 12 months",
    ],
    "appeal_outcome_chief_executive": [
        "We have not upheld your appeal.",
        "What applies now",
        "last stage of appeal within the council",
        "Scottish Public Services Ombudsman",
        "within 12 months",
    ],
    "complaint_stage_1": [
        "Stage 1 (frontline response)",
        "We have not upheld your complaint.",
        "again at Stage 2 of our complaints handling procedure",
        "by 23 May 2027",
    ],
    "complaint_stage_2": [
        "Stage 2 (investigation), the last stage",
        "We have partly upheld your complaint.",
        "Scottish Public Services Ombudsman",
        "within 12 months",
    ],
    "appeal_not_heard_elected_member": [
        "does not apply to action taken by elected members",
        "Ethical Standards Commissioner",
        "Scottish Public Services Ombudsman",
        "within 12 months",
    ],
    "appeal_not_heard": [
        "already been considered by the Chief Executive",
        "Scottish Public Services Ombudsman",
        "within 12 months",
    ],
}
RESTRICTS = ("How long this will last", "told about these arrangements", "contacting us in an emergency")
NOT_SAID = {
    "restorative_approach": [*RESTRICTS, "Ombudsman"],
    "police_or_legal": [*RESTRICTS, "legal action", "Ombudsman"],
    "lifted": [*RESTRICTS, "If you disagree", "appeal", "Ombudsman", "From the date of this letter"],
    "appeal_outcome_review_group": [*RESTRICTS, "If you disagree", "From the date of this letter"],
    "appeal_outcome_chief_executive": ["If you disagree", "Complaints Review Group will"],
    "complaint_stage_1": [*RESTRICTS, "Ombudsman", "restriction"],
    "complaint_stage_2": [*RESTRICTS, "If you disagree", "restriction"],
    "appeal_not_heard_elected_member": [*RESTRICTS, "If you disagree"],
    "appeal_not_heard": [*RESTRICTS, "If you disagree", "Ethical Standards"],
}
# Written about the customer rather than to them: the old letters' fault.
THIRD_PERSON = re.compile(r"\bthe customer\b|\btheir behaviour\b|\bthey have\b|\bthem to\b", re.IGNORECASE)


def words_of(document) -> str:
    paragraphs = list(document.paragraphs)
    for section in document.sections:
        paragraphs += section.first_page_header.paragraphs + section.footer.paragraphs
    return "\n".join(p.text for p in paragraphs)


@pytest.fixture(scope="module")
def made() -> dict[str, tuple[bytes, str]]:
    """Every letter kind, in Word, and its text as printed (LibreOffice's PDF), drawn to images."""
    documents = {name: letter_docx(letter, SETTINGS, large_print=False) for name, letter in LETTERS.items()}
    printed: dict[str, str] = {}
    if shutil.which("soffice"):
        if LOOK.exists():
            shutil.rmtree(LOOK)
        LOOK.mkdir(parents=True)
        for name, body in documents.items():
            (LOOK / f"{name}.docx").write_bytes(body)
        subprocess.run(
            ["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(LOOK), *LOOK.glob("*.docx")],
            check=True,
            capture_output=True,
            timeout=300,
        )
        for name in documents:
            pdf = LOOK / f"{name}.pdf"
            reader = PdfReader(str(pdf))
            box = reader.pages[0].mediabox
            assert (round(float(box.width)), round(float(box.height))) == (595, 842), name  # A4 in points
            printed[name] = "\n".join(page.extract_text() for page in reader.pages)
            if shutil.which("pdftoppm"):
                subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(LOOK / name)], check=True)
    return {name: (body, printed.get(name, "")) for name, body in documents.items()}


def test_there_is_a_letter_for_every_kind_of_decision_outcome_and_stage():
    assert sorted(template_name(letter) for letter in LETTERS.values()) == sorted(TEMPLATE_NAMES)
    assert template_problems(Path(letters.__file__).parent / "templates") == []


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_each_letter_reads_as_written_to_the_customer_and_says_only_what_applies(made, name):
    body, printed = made[name]
    document = Document(io.BytesIO(body))
    section = document.sections[0]
    # A4, as UK councils print
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    text = words_of(document)
    assert "{{" not in text and "{%" not in text
    # The letterhead: how to reply.
    for part in (
        "Scottish Borders Council",
        "Newtown St Boswells",
        "0300 100 1800",
        "www.scotborders.gov.uk",
    ):
        assert part in text, part
    assert "Dear Pat Jones," in text and "Our reference: INC-2026-00001" in text
    for expected in SAYS.get(name, []):
        assert expected in text, expected
    for absent in NOT_SAID.get(name, []):
        assert absent not in text, absent
    assert not THIRD_PERSON.search(text), THIRD_PERSON.search(text)
    assert INTERNAL not in text
    assert "Customer Relationship Management" not in text  # none is configured
    assert "Information Commissioner" in text and "Data Protection Officer" in text
    if printed:  # the page as printed says the same, numbered
        flat = " ".join(printed.split())
        assert "Dear Pat Jones," in flat and "Page 1 of" in flat
        for expected in SAYS.get(name, [])[:2]:
            assert " ".join(expected.split()) in flat, expected


def test_a_letter_where_a_restriction_protects_staff_names_no_one():
    # The continuation's own restriction protects staff; another of the customer's may (the register
    # says so in `protects_staff`).
    continuing = LETTERS["continuation"]
    text = words_of(Document(io.BytesIO(letter_docx(continuing, SETTINGS, large_print=False))))
    assert "Amy Manager" not in text and "Housing Management Team" in text
    outcome = LETTERS["appeal_outcome_review_group"]
    named = words_of(Document(io.BytesIO(letter_docx(outcome, SETTINGS, large_print=False))))
    assert "Ceri Panel\nfor the Complaints Review Group" in named
    protected = replace(outcome, protects_staff=True)
    text = words_of(Document(io.BytesIO(letter_docx(protected, SETTINGS, large_print=False))))
    assert "Ceri Panel" not in text and "The Complaints Review Group\nScottish Borders Council" in text
    # A council that signs with roles everywhere.
    by_role = replace(SETTINGS, signed_by="role")
    text = words_of(Document(io.BytesIO(letter_docx(BASE, by_role, large_print=False))))
    assert "Amy Manager" not in text and "Housing Management Team" in text


def test_the_data_sharing_paragraph_names_the_crm_only_where_one_is_configured():
    with_crm = replace(SETTINGS, crm_name="our Customer Relationship Management system (Dynamics 365)")
    text = words_of(Document(io.BytesIO(letter_docx(BASE, with_crm, large_print=False))))
    assert "and on our Customer Relationship Management system (Dynamics 365)" in text
    assert "police" not in text  # they were not told
    legal = replace(LETTERS["police_or_legal"], police_told=False, police_reference=None, legal_action=True)
    text = words_of(Document(io.BytesIO(letter_docx(legal, SETTINGS, large_print=False))))
    assert "legal service to take legal action" in text and "police" not in text


def test_large_print_is_16_point_or_more_throughout():
    body = letter_docx(BASE, SETTINGS, large_print=True)
    sizes = {r.font.size.pt for p in Document(io.BytesIO(body)).paragraphs for r in p.runs if r.text.strip()}
    assert min(sizes) >= 16


def test_a_councils_own_formatting_survives_filling_the_template(tmp_path):
    folder = tmp_path / "ours"
    folder.mkdir()
    for name in TEMPLATE_NAMES:
        letter_template(folder / f"{name}.docx", name)
    # The council makes its own edits in Word: a bold, red label and an italic field in one line.
    path = folder / "active_management.docx"
    document = Document(str(path))
    paragraph = document.add_paragraph()
    label = paragraph.add_run("Please quote: ")
    label.bold = True
    field = paragraph.add_run("{{ reference }}")
    field.italic = True
    document.save(str(path))
    filled = Document(
        io.BytesIO(letter_docx(BASE, replace(SETTINGS, template_dir=folder), large_print=False))
    )
    (line,) = [p for p in filled.paragraphs if p.text.startswith("Please quote: ")]
    assert [(r.text, r.bold, r.italic) for r in line.runs] == [
        ("Please quote: ", True, None),
        ("INC-2026-00001", None, True),
    ]
    (reference,) = [p for p in filled.paragraphs if p.text.startswith("Our reference: ")]
    assert [(r.text, r.bold) for r in reference.runs] == [("Our reference: ", True), ("INC-2026-00001", None)]


def test_a_template_missing_what_its_letter_needs_is_named(tmp_path):
    for name in TEMPLATE_NAMES:
        letter_template(tmp_path / f"{name}.docx", name)
    document = Document(str(tmp_path / "continuation.docx"))
    for paragraph in document.paragraphs:
        if paragraph.text == "{{ sharing }}":
            paragraph.text = "See our website."
    document.add_paragraph("{{ customer_shoe_size }}")
    document.save(str(tmp_path / "continuation.docx"))
    (tmp_path / "lifted.docx").unlink()
    broken = Document(str(tmp_path / "variation.docx"))
    broken.add_paragraph("{%p endif %}")
    broken.save(str(tmp_path / "variation.docx"))
    assert template_problems(tmp_path) == [
        "continuation.docx lacks sharing",
        "continuation.docx uses fields no letter has: customer_shoe_size",
        "variation.docx cannot be read (TemplateSyntaxError: Encountered unknown tag 'endif'.)",
        "lifted.docx is missing",
    ]


def test_the_letterhead_and_where_appeals_go_come_from_the_councils_settings(tmp_path):
    from bot.app import letter_settings
    from bot.config import ConfigError, load_settings

    settings = load_settings(
        {
            "COUNCIL_NAME": "Scottish Borders Council",
            "COUNCIL_ADDRESS": "Council Headquarters | Newtown St Boswells | Melrose TD6 0SA",
            "COUNCIL_EMAIL": "customer.engagement@scotborders.example",
            "LETTERS_SIGNED_BY": "role",
            "CRM_NAME": "our Customer Relationship Management system",
        }
    )
    letters_ = letter_settings(settings)
    assert letters_.address == "Council Headquarters\nNewtown St Boswells\nMelrose TD6 0SA"
    assert letters_.letterhead_missing == ["COUNCIL_PHONE", "COUNCIL_WEB"]
    text = words_of(Document(io.BytesIO(letter_docx(BASE, letters_, large_print=False))))
    assert "write to us at the address at the top of this letter, or email customer.engagement@" in text
    assert "Amy Manager" not in text and "and on our Customer Relationship Management system" in text
    with pytest.raises(ConfigError, match="LETTERS_SIGNED_BY must be name or role"):
        load_settings({"LETTERS_SIGNED_BY": "nobody"})
    with pytest.raises(ConfigError, match="COUNCIL_LOGO"):
        load_settings({"COUNCIL_LOGO": str(tmp_path / "missing.png")})


def test_the_councils_logo_heads_the_letter(tmp_path):
    from PIL import Image

    logo = tmp_path / "logo.png"
    Image.new("RGB", (300, 120), "#00667A").save(logo)
    body = letter_docx(BASE, replace(SETTINGS, logo=logo), large_print=False)
    header = Document(io.BytesIO(body)).sections[0].first_page_header
    assert "<w:drawing" in header._element.xml and "Scottish Borders Council" in words_of(
        Document(io.BytesIO(body))
    )
