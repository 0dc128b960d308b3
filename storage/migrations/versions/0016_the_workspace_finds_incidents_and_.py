"""the workspace finds incidents and customers by index

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 12:00:00

The workspace tab lists the register newest first, a person's own reports, and the customers an
exact email or postcode names: on 300,000 incidents and 100,000 customers each was a scan of the
table. Indexes hold what those pages read.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_incidents_occurred_at", "incidents", ["occurred_at"])
    op.create_index("ix_incidents_reporter_id_reported_at", "incidents", ["reporter_id", "reported_at"])
    op.create_index("ix_customers_email", "customers", ["email"])
    op.create_index("ix_customers_postcode", "customers", ["postcode"])


def downgrade() -> None:
    op.drop_index("ix_customers_postcode", table_name="customers")
    op.drop_index("ix_customers_email", table_name="customers")
    op.drop_index("ix_incidents_reporter_id_reported_at", table_name="incidents")
    op.drop_index("ix_incidents_occurred_at", table_name="incidents")
