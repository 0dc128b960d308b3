"""every decision appealable on its route, with one clock

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 12:00:00

An appeal names the decision it is against (`step`): a first decision, a review's variation or
reinstatement, an earlier appeal's outcome, or an employee's immediate action. It keeps the time
limit it was measured against, when its outcome is due, the stage of the complaints handling
procedure, and why it goes no further here when it does not (then it has no route). Reviews and
incidents keep the capacity their takers acted in at the time. A letter keeps the date printed on
the latest copy downloaded before it was sent: the time to appeal runs from it until the sending
is recorded.

Outcomes are re-worded from the customer's side: what was "upheld" (the decision stood) is "not
upheld"; "varied" is "partly upheld"; "overturned" is "upheld". Reporters who hold the elected
member role now are taken to have held it when they reported: the register kept nothing better.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OUTCOMES = {"upheld": "not_upheld", "varied": "partly_upheld", "overturned": "upheld"}


def upgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reported_as", sa.String(length=40), server_default="employee", nullable=False)
        )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("deciding_body", sa.String(length=40), server_default="manager", nullable=False)
        )
    with op.batch_alter_table("letters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dated_on", sa.Date(), nullable=True))
    with op.batch_alter_table("appeals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("step", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("review_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("stage", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("not_heard", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("time_limit_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("respond_by", sa.Date(), nullable=True))
        batch_op.alter_column("route", existing_type=sa.String(length=40), nullable=True)
        batch_op.create_index(batch_op.f("ix_appeals_step"), ["step"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_appeals_review_id_reviews"), "reviews", ["review_id"], ["id"]
        )
    op.execute(
        "UPDATE incidents SET reported_as = 'elected_member' WHERE reporter_id IN "
        "(SELECT person_id FROM role_assignments WHERE role = 'elected_member')"
    )
    op.execute(
        "UPDATE appeals SET step = CASE against "
        "WHEN 'decision' THEN 'decision:' || CAST(decision_id AS VARCHAR(20)) "
        "WHEN 'appeal' THEN 'appeal:' || CAST(previous_appeal_id AS VARCHAR(20)) "
        "ELSE 'immediate_action:' || CAST(incident_id AS VARCHAR(20)) END"
    )
    op.execute("UPDATE appeals SET against = 'appeal_outcome' WHERE against = 'appeal'")
    op.execute("UPDATE appeals SET stage = 1 WHERE route = 'complaints_procedure'")
    op.execute(
        "UPDATE appeals SET open_key = CAST(incident_id AS VARCHAR(20)) || ':' || step WHERE status = 'open'"
    )
    cases = " ".join(f"WHEN '{old}' THEN '{new}'" for old, new in OUTCOMES.items())
    op.execute(f"UPDATE appeals SET outcome = CASE outcome {cases} END WHERE outcome IS NOT NULL")


def downgrade() -> None:
    not_heard = op.get_bind().execute(sa.text("SELECT count(*) FROM appeals WHERE route IS NULL")).scalar()
    if not_heard:
        # Nothing stored is lost: the earlier schema has no place for an appeal heard by nobody.
        raise RuntimeError(f"{not_heard} appeal(s) recorded as going no further: keep this revision")
    cases = " ".join(f"WHEN '{new}' THEN '{old}'" for old, new in OUTCOMES.items())
    op.execute(f"UPDATE appeals SET outcome = CASE outcome {cases} END WHERE outcome IS NOT NULL")
    op.execute("UPDATE appeals SET against = 'appeal' WHERE against = 'appeal_outcome'")
    with op.batch_alter_table("appeals", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_appeals_review_id_reviews"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_appeals_step"))
        batch_op.alter_column("route", existing_type=sa.String(length=40), nullable=False)
        batch_op.drop_column("respond_by")
        batch_op.drop_column("time_limit_on")
        batch_op.drop_column("not_heard")
        batch_op.drop_column("stage")
        batch_op.drop_column("review_id")
        batch_op.drop_column("step")
    with op.batch_alter_table("letters", schema=None) as batch_op:
        batch_op.drop_column("dated_on")
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_column("deciding_body")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_column("reported_as")
