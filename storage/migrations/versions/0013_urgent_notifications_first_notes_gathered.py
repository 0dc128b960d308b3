"""urgent notifications first, notes gathered

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 12:00:00

A run of notes from one person queued ahead of a category-one report delayed the managers' card
by the time Teams' pace took to send them. Outbox messages get a priority (urgent ones overtake
the recipient's queued ones) and a count of the notifications one message gathers (notes on one
incident waiting for the same manager are merged into one message). The claim picks each
recipient's next message by recipient and priority: an index holds what it reads.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.SmallInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("gathered", sa.Integer(), server_default="1", nullable=False))
    op.create_index("ix_outbox_in_line", "outbox", ["status", "person_id", "channel_id", "priority", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_in_line", table_name="outbox")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("gathered")
        batch_op.drop_column("priority")
