"""Subject access: everything held on one customer, and nothing on anyone else."""

import json

from docx import Document

from storage.models import AuditEvent
from tests.support.dialog import decide, log_appeal
from tests.support.reporting import report
from tests.support.teams import AMY, KIM, SAM
from tests.test_cli import run
from tests.test_decide import ACTIVE, ROLES


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
    await harness.say(SAM, "add to INC-2026-00001 He rang again.")
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
    assert [n["text"] for n in record["incident_notes"]] == ["He rang again."]
    assert [d["kind"] for d in record["decisions"]] == ["active_management"]
    assert [r["type"] for r in record["restrictions"]] == ["contact_channels"]
    assert [letter["kind"] for letter in record["letters"]] == ["decision"]
    assert [a["grounds"] for a in record["appeals"]] == ["Unfair."]
    assert len(record["appealed_restrictions"]) == 1
    actions = {e["action"] for e in record["audit_events"]}
    assert {"incident.reported", "decision.recorded", "restriction.applied", "customer.added"} <= actions
    dump = json.dumps(record)
    assert "Other Person" not in dump and "other@mail.example" not in dump and "INC-2026-00002" not in dump

    words = "\n".join(
        cell.text
        for table in Document(str(tmp_path / "sar" / "customer-1.docx")).tables
        for row in table.rows
        for cell in row.cells
    )
    assert "Pat Jones" in words and "Other Person" not in words

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
