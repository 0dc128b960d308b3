"""Shared by the security tests: a small council, snapshots of the register, the audit trail."""

import os
from typing import Any

from hypothesis import HealthCheck, settings
from sqlalchemy import select

from storage.models import (
    Appeal,
    AppealedRestriction,
    AuditEvent,
    CouncilSetting,
    Customer,
    Decision,
    Incident,
    IncidentNote,
    Letter,
    OutboxMessage,
    RestorativeStepTaken,
    Restriction,
    Review,
    RoleAssignment,
    ServiceArea,
)
from tests.support.harness import BotHarness

# Few examples, no deadline: every example is a round trip through the real endpoint and a database,
# and the whole security suite must stay within about a minute and a half. CI runs the same examples
# every time (derandomize), so a failure there is reproducible here.
settings.register_profile(
    "security",
    max_examples=int(os.environ.get("SECURITY_EXAMPLES", "25")),
    deadline=None,
    database=None,  # no .hypothesis/ folder in the checkout: failures print their example instead
    derandomize=os.environ.get("CI", "").lower() in ("1", "true", "yes"),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile("security")

# What the register holds. People and conversation references are written on every turn (the issue
# asks for them), the audit trail records refusals, and drafts hold a dialog's unsent steps: none
# of them is the register's substance, so they are compared separately or not at all.
REGISTER = (
    ServiceArea,
    RoleAssignment,
    Customer,
    Incident,
    IncidentNote,
    Decision,
    RestorativeStepTaken,
    Restriction,
    Review,
    Appeal,
    AppealedRestriction,
    Letter,
    CouncilSetting,
    OutboxMessage,
)


def _row(obj: Any) -> tuple[Any, ...]:
    return tuple(getattr(obj, c.key) for c in obj.__mapper__.column_attrs)


async def snapshot(harness: BotHarness) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every register table, for comparing before and after."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    async with harness.sessions() as session:
        for model in REGISTER:
            rows = (await session.scalars(select(model))).all()
            found[model.__tablename__] = sorted((_row(r) for r in rows), key=repr)
    return found


async def audit_actions(harness: BotHarness) -> list[AuditEvent]:
    async with harness.sessions() as session:
        return list((await session.scalars(select(AuditEvent).order_by(AuditEvent.seq))).all())
