"""cron monitors and their check-ins

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 14:19:13.409643
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "monitor",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=50), nullable=False),
        sa.Column("schedule_type", sa.String(length=16), nullable=False),
        sa.Column("schedule_value", sa.String(length=100), nullable=False),
        sa.Column("schedule_unit", sa.String(length=8), nullable=True),
        sa.Column("checkin_margin", sa.Integer(), nullable=False),
        sa.Column("max_runtime", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_check_in_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_expected_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_monitor_project_id_project")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor")),
        sa.UniqueConstraint("project_id", "slug", name=op.f("uq_monitor_project_id_slug")),
    )
    with op.batch_alter_table("monitor", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitor_next_expected_at"), ["next_expected_at"], unique=False
        )

    op.create_table(
        "check_in",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column(
            "monitor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("check_in_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("release", sa.String(length=250), nullable=True),
        sa.Column("environment", sa.String(length=64), nullable=True),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("expected_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("received_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["monitor_id"],
            ["monitor.id"],
            name=op.f("fk_check_in_monitor_id_monitor"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_check_in_project_id_project")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_in")),
        sa.UniqueConstraint(
            "project_id", "check_in_id", name=op.f("uq_check_in_project_id_check_in_id")
        ),
    )
    with op.batch_alter_table("check_in", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_check_in_monitor_id_id"), ["monitor_id", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_check_in_status_started_at"), ["status", "started_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("check_in", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_check_in_status_started_at"))
        batch_op.drop_index(batch_op.f("ix_check_in_monitor_id_id"))

    op.drop_table("check_in")
    with op.batch_alter_table("monitor", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitor_next_expected_at"))

    op.drop_table("monitor")
