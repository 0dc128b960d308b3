"""outbox messages found by their record

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 12:20:00

A decision, an appeal and the retention run each find the messages sent about one record; the
outbox keeps every message, so without an index each was a scan of all of them.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_outbox_record", "outbox", ["record_type", "record_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_record", table_name="outbox")
