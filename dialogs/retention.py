"""The daily retention run: anonymise every customer whose retention period has passed."""

import logging

from dialogs.turn import Services
from storage import retention

log = logging.getLogger(__name__)


async def plan(services: Services) -> retention.Plan:
    async with services.sessions() as session:
        return await retention.plan(session, services.retention, services.today(), services.zone)


async def due(services: Services) -> list[retention.Due]:
    return (await plan(services)).due


async def run(services: Services) -> int:
    """Anonymise what is due, one customer per transaction; returns how many.

    One customer's rows never stop the run for the others: a row whose period cannot be counted
    is reported (by id) and its customer kept; a customer whose anonymising fails is reported and
    left for the next night."""
    found = await plan(services)
    for skipped in found.skipped:
        log.warning(
            "retention skipped a row",
            extra={"customer": skipped.customer_id, "incident": skipped.incident_id, "why": skipped.why},
        )
    done = 0
    for item in found.due:
        try:
            done += await _anonymise(services, item.customer_id)
        except Exception:
            log.exception("retention failed for a customer", extra={"customer": item.customer_id})
    return done


async def _anonymise(services: Services, customer_id: int) -> int:
    async with services.sessions() as session:
        # Checked again inside the transaction: a restriction or appeal may have come since.
        still = await retention.due(
            session, services.retention, services.today(), services.zone, customer_id=customer_id
        )
        if not still or not await retention.anonymise(session, customer_id, now=services.clock()):
            return 0
        await session.commit()
        return 1
