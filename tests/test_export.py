"""Subject access: everything held on one customer, and nothing on anyone else."""

import json
import re
import shutil
import subprocess
from pathlib import Path

from docx import Document
from pypdf import PdfReader

from storage.models import AuditEvent
from tests.support.dialog import decide, log_appeal
from tests.support.reporting import report
from tests.support.teams import AMY, KIM, SAM
from tests.test_cli import run
from tests.test_decide import ACTIVE, ROLES


def _draw(pdf: Path, stem: Path) -> None:
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(stem)], check=True)


async def test_the_export_holds_every_table_for_that_customer_and_none_of_anothers(
    harness, tmp_path, database_url
):
    await harness.import_roles(ROLES)
    for person in (AMY, KIM, SAM):
        await harness.say(person, "hi")
    await report(harness, SAM, customer={"new_name": "Pat Jones", "new_email": "pat@mail.example"})
    await report(harness, SAM, customer={"new_name": "Other Person", "new_email": "other@mail.example"})
    await harness.deliver()
    notice = next(s for s in harness.connector.to(AMY.chat_id) if "INC-2026-00001" in str(s.card))
    await decide(harness, AMY, notice.card, "Active management", **ACTIVE)
    await harness.say(SAM, "add to INC-2026-00001 He rang again and shouted at Other Person in the queue.")
    await log_appeal(harness, KIM, "INC-2026-00001", against="decision", grounds="Unfair.")

    result = run(
        "export",
        "customer",
        "1",
        "--out",
        str(tmp_path / "sar"),
        "--by",
        "kim.keeper@council.example",
        cwd=tmp_path,
        env={"DATABASE_URL": database_url},
    )
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "sar" / "customer-1.json").read_text())
    assert [c["name"] for c in record["customers"]] == ["Pat Jones"]
    assert [i["reference"] for i in record["incidents"]] == ["INC-2026-00001"]
    # Another customer named in what staff wrote is redacted, in the machine-readable copy too.
    assert [n["text"] for n in record["incident_notes"]] == [
        "He rang again and shouted at [another person] in the queue."
    ]
    assert [d["kind"] for d in record["decisions"]] == ["active_management"]
    assert [r["type"] for r in record["restrictions"]] == ["contact_channels"]
    assert [letter["kind"] for letter in record["letters"]] == ["decision"]
    assert [a["grounds"] for a in record["appeals"]] == ["Unfair."]
    assert len(record["appealed_restrictions"]) == 1
    actions = {e["action"] for e in record["audit_events"]}
    assert {"incident.reported", "decision.recorded", "restriction.applied", "customer.added"} <= actions
    dump = json.dumps(record)
    assert "Other Person" not in dump and "other@mail.example" not in dump and "INC-2026-00002" not in dump

    # The pack a person reads: a chronology in plain words and UK dates, the letter in full, and
    # nobody else named: not the other customer, not the staff.
    pack = Document(str(tmp_path / "sar" / "customer-1.docx"))
    assert (round(pack.sections[0].page_width.mm), round(pack.sections[0].page_height.mm)) == (210, 297)
    words = "\n".join(p.text for p in pack.paragraphs)
    printed = " ".join(
        page.extract_text() for page in PdfReader(str(tmp_path / "sar" / "customer-1.pdf")).pages
    )
    printed = " ".join(printed.split())
    for text in (words, printed):
        assert "Information we hold about Pat Jones" in text
        assert (
            "23 November 2026: A member of staff in Housing reported an incident (INC-2026-00001)"
            in " ".join(text.split())
        )
        assert "shouted at [another person] in the queue" in text
        assert "A manager in Housing decided on INC-2026-00001: Active management." in " ".join(text.split())
        assert "Managing how you contact us" in text  # the letter, included
        assert "We received your appeal about INC-2026-00001" in " ".join(text.split())
        assert "Nobody has looked at it." in text or re.search(r"\d+ \w+ 2026: looked at \d+ time", text)
        assert "Managing how you contact us (23 November 2026)" in text  # dated as it was made
        for absent in ("Other Person", "other@mail.example", "INC-2026-00002", "Sam Staff", "Amy Manager"):
            assert absent not in text, absent
        assert not re.search(r"\d{4}-\d{2}-\d{2}T", text)  # no ISO timestamps
        assert "'" + "active_management" + "'" not in text and "customer_id" not in text  # no raw rows

    # Drawn for a person to look at.
    look = Path(__file__).parents[1] / "build" / "look" / "subject-access"
    look.mkdir(parents=True, exist_ok=True)
    for made in ("customer-1.docx", "customer-1.pdf"):
        shutil.copy(tmp_path / "sar" / made, look / made)
    if shutil.which("pdftoppm"):
        _draw(look / "customer-1.pdf", look / "pack")

    exported = await harness.rows(AuditEvent, AuditEvent.action == "customer.exported")
    assert [(e.record_id, e.actor_id is not None) for e in exported] == [("1", True)]

    missing = run(
        "export",
        "customer",
        "99",
        "--out",
        str(tmp_path / "x"),
        cwd=tmp_path,
        env={"DATABASE_URL": database_url},
    )
    assert missing.returncode == 2 and "there is no customer 99" in missing.stderr
