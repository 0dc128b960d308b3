"""audit events found by action and time

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 12:00:00

The monthly report of who viewed which records read every event the audit trail has ever kept
to find one month's views, on SQLite inside the transaction that claims the month's report, so
with the writer's turn held: years of events kept would stall every report and decision for it.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_audit_events_action_at", "audit_events", ["action", "occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_action_at", table_name="audit_events")
