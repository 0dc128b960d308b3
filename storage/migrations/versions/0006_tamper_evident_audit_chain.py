"""tamper-evident audit chain

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 06:08:40.410102
"""

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC
from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _digest(previous: str, row) -> str:
    # Frozen copy of storage.audit.digest as it was when the chain began.
    occurred = row.occurred_at
    if occurred.tzinfo is None:
        occurred = occurred.replace(tzinfo=UTC)
    detail = row.detail if isinstance(row.detail, dict) else json.loads(row.detail or "{}")
    payload = {
        "seq": row.seq,
        "at": occurred.astimezone(UTC).isoformat(),
        "actor": row.actor_id,
        "action": row.action,
        "type": row.record_type,
        "record": row.record_id,
        "detail": detail,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{previous}|{canonical}".encode()).hexdigest()


PG_APPEND_ONLY = [
    """
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP;
END
$$ LANGUAGE plpgsql
""",
    "CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
    "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()",
]
SQLITE_APPEND_ONLY = [
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: UPDATE refused'); END",
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: DELETE refused'); END",
]


def upgrade() -> None:
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))

    # Events written before the chain existed are chained now, oldest first.
    connection = op.get_bind()
    events = sa.table(
        "audit_events",
        sa.column("id", sa.Integer),
        sa.column("seq", sa.Integer),
        sa.column("occurred_at", storage.types.UTCDateTime()),
        sa.column("actor_id", sa.Integer),
        sa.column("action", sa.String),
        sa.column("record_type", sa.String),
        sa.column("record_id", sa.String),
        sa.column("detail", sa.JSON),
        sa.column("prev_hash", sa.String),
        sa.column("hash", sa.String),
    )
    previous = "0" * 64
    rows = connection.execute(sa.select(events).order_by(events.c.id)).all()
    for seq, row in enumerate(rows, start=1):
        chained = _digest(previous, SimpleNamespace(**{**row._mapping, "seq": seq}))
        connection.execute(
            events.update().where(events.c.id == row.id).values(seq=seq, prev_hash=previous, hash=chained)
        )
        previous = chained
    connection.execute(
        sa.text("INSERT INTO audit_head (id, seq, last_hash) VALUES (1, :seq, :hash)"),
        {"seq": len(rows), "hash": previous},
    )

    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_audit_events_seq"), ["seq"])

    # The database itself refuses to change or remove what the audit log holds.
    for statement in PG_APPEND_ONLY if connection.dialect.name == "postgresql" else SQLITE_APPEND_ONLY:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_change ON audit_events")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_events_seq"), type_="unique")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")

    op.drop_table("audit_head")
    # ### end Alembic commands ###
