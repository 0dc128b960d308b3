"""A subject access export: the customer's record as JSON and as a readable Word document."""

import asyncio
import json
from pathlib import Path
from typing import Any

from dialogs.turn import Services
from storage import audit, export, people

TITLES = {
    "customers": "About you",
    "incidents": "Incidents recorded",
    "incident_notes": "Information added later",
    "decisions": "Decisions",
    "restorative_steps": "Restorative steps",
    "restrictions": "Restrictions",
    "reviews": "Reviews",
    "appeals": "Appeals",
    "appealed_restrictions": "Restrictions appealed",
    "letters": "Letters",
    "audit_events": "Who did what with this record, and when",
}


def _document(customer_id: int, record: dict[str, list[dict[str, Any]]], path: Path) -> None:
    from docx import Document  # loaded for an export, not with the bot

    document = Document()
    document.add_heading(f"Information held on customer {customer_id}", level=0)
    document.add_paragraph(
        "This is everything the council's customer engagement register holds about you, "
        "produced in answer to a subject access request."
    )
    for key, rows in record.items():
        document.add_heading(TITLES.get(key, key), level=1)
        if not rows:
            document.add_paragraph("None.")
            continue
        for row in rows:
            table = document.add_table(rows=0, cols=2)
            table.style = "Table Grid"
            for name, value in row.items():
                cells = table.add_row().cells
                cells[0].text = name.replace("_", " ")
                cells[1].text = "" if value is None else str(value)
            document.add_paragraph()
    document.save(str(path))


async def export_customer(
    services: Services, customer_id: int, out: Path, *, by_email: str | None
) -> list[Path] | None:
    """Write the export; the export itself is an audit event. None if there is no such customer."""
    now = services.clock()
    async with services.sessions() as session:
        record = await export.customer_record(session, customer_id)
        if record is None:
            return None
        actor = await people.find_by_email(session, by_email) if by_email else None
        await audit.record(
            session,
            now=now,
            actor_id=actor.id if actor else None,
            action="customer.exported",
            record_type="customer",
            record_id=customer_id,
            detail={"tables": {k: len(v) for k, v in record.items()}},
        )
        await session.commit()
    return await asyncio.to_thread(write, customer_id, record, out)


def write(customer_id: int, record: dict[str, list[dict[str, Any]]], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    data = out / f"customer-{customer_id}.json"
    data.write_text(json.dumps(record, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    readable = out / f"customer-{customer_id}.docx"
    _document(customer_id, record, readable)
    return [data, readable]
