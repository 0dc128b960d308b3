"""The daily retention run: anonymise every customer whose retention period has passed."""

from dialogs.turn import Services
from storage import retention


async def due(services: Services) -> list[retention.Due]:
    async with services.sessions() as session:
        return await retention.due(session, services.retention, services.today(), services.zone)


async def run(services: Services) -> int:
    """Anonymise what is due, one customer per transaction; returns how many."""
    done = 0
    for item in await due(services):
        async with services.sessions() as session:
            # Checked again inside the transaction: a restriction or appeal may have come since.
            still = await retention.due(
                session, services.retention, services.today(), services.zone, customer_id=item.customer_id
            )
            if not still:
                continue
            if not await retention.anonymise(session, item.customer_id, now=services.clock()):
                continue
            await session.commit()
            done += 1
    return done
