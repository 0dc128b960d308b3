"""nothing waits unseen: undecided incidents chased, no-review restrictions overseen, warnings

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 12:00:00

An undecided incident is chased (the stage reached and when to look again); a keeper may name a
manager to decide where none of the service can. A report may describe another behaviour, name
a representative who behaved so, or a customer not yet identified (matched to a record later). A
restorative approach tried outside the bot is recorded with when and by whom. A review that varies
answers the needs question a decision does. A restriction with no review comes before the
register keepers at least yearly.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("other_behaviour", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("representative", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("chase_stage", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column("next_chase_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("named_decider_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("named_decider_reason", sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            "fk_incidents_named_decider_id_people", "people", ["named_decider_id"], ["id"]
        )
    op.create_index("ix_incidents_status_next_chase_at", "incidents", ["status", "next_chase_at"])
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("unidentified", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("matched_to_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_customers_matched_to_id_customers", "customers", ["matched_to_id"], ["id"]
        )
    with op.batch_alter_table("restorative_steps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("taken_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("taken_by", sa.String(length=200), nullable=True))
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.add_column(sa.Column("needs_considered", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("needs_considered_note", sa.Text(), nullable=True))
    with op.batch_alter_table("restrictions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("oversight_due_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("overseen_at", storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("overseen_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_restrictions_overseen_by_id_people", "people", ["overseen_by_id"], ["id"]
        )
    op.create_index("ix_restrictions_status_oversight_due_on", "restrictions", ["status", "oversight_due_on"])
    # Reports already waiting for a decision are chased from the first sweep.
    op.execute("UPDATE incidents SET next_chase_at = reported_at WHERE status = 'reported'")
    # Restrictions already in force with no review come before the keepers at the first sweep.
    op.execute(
        "UPDATE restrictions SET oversight_due_on = starts_on "
        "WHERE review_due_on IS NULL AND status = 'active'"
    )


def downgrade() -> None:
    op.drop_index("ix_restrictions_status_oversight_due_on", table_name="restrictions")
    with op.batch_alter_table("restrictions", schema=None) as batch_op:
        batch_op.drop_constraint("fk_restrictions_overseen_by_id_people", type_="foreignkey")
        batch_op.drop_column("overseen_by_id")
        batch_op.drop_column("overseen_at")
        batch_op.drop_column("oversight_due_on")
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_column("needs_considered_note")
        batch_op.drop_column("needs_considered")
    with op.batch_alter_table("restorative_steps", schema=None) as batch_op:
        batch_op.drop_column("taken_by")
        batch_op.drop_column("taken_on")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_constraint("fk_customers_matched_to_id_customers", type_="foreignkey")
        batch_op.drop_column("matched_to_id")
        batch_op.drop_column("unidentified")
    op.drop_index("ix_incidents_status_next_chase_at", table_name="incidents")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_constraint("fk_incidents_named_decider_id_people", type_="foreignkey")
        batch_op.drop_column("named_decider_reason")
        batch_op.drop_column("named_decider_id")
        batch_op.drop_column("next_chase_at")
        batch_op.drop_column("chase_stage")
        batch_op.drop_column("representative")
        batch_op.drop_column("other_behaviour")
