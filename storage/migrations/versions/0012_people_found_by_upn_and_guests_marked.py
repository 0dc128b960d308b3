"""people found by UPN, and guests marked

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28 12:00:00

A person's mail and their sign-in name (UPN) may differ, and the roles file may name either: the
UPN is kept beside the mail. Guests are marked, so that no role reaches them by mail or UPN.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("upn", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("guest", sa.Boolean(), server_default="0", nullable=False))
        batch_op.create_unique_constraint(batch_op.f("uq_people_upn"), ["upn"])


def downgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_people_upn"), type_="unique")
        batch_op.drop_column("guest")
        batch_op.drop_column("upn")
