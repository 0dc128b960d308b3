"""letters told in the customer's words

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 12:00:00

A letter printed the manager's internal reasons word for word. What the customer is told is now
written for them beside the internal reasons: on a decision, a review and an appeal's outcome.
A decision to involve the police or take legal action records which, so its letter says which.
A customer's preferred format for letters and language are kept, so each letter is made so.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("letter_format", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("letter_format_detail", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("language", sa.String(length=60), nullable=True))
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer_explanation", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("action_taken", sa.String(length=20), nullable=True))
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer_explanation", sa.Text(), nullable=True))
    with op.batch_alter_table("appeals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome_explanation", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("appeals", schema=None) as batch_op:
        batch_op.drop_column("outcome_explanation")
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_column("customer_explanation")
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_column("action_taken")
        batch_op.drop_column("customer_explanation")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("language")
        batch_op.drop_column("letter_format_detail")
        batch_op.drop_column("letter_format")
