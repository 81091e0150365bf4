"""spans and logs: span and log_entry rows, and the business keys each carries

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 14:15:44.925762
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "log_entry",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("timestamp", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("severity_number", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("template", sa.Text(), nullable=True),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("span_id", sa.String(length=16), nullable=True),
        sa.Column("service", sa.String(length=128), nullable=True),
        sa.Column("release", sa.String(length=250), nullable=True),
        sa.Column("environment", sa.String(length=64), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("received_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_log_entry_project_id_project")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_entry")),
        sa.UniqueConstraint("project_id", "digest", name=op.f("uq_log_entry_project_id_digest")),
    )
    with op.batch_alter_table("log_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_log_entry_service_id"), ["service", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_log_entry_timestamp"), ["timestamp"], unique=False)
        batch_op.create_index(batch_op.f("ix_log_entry_trace_id"), ["trace_id"], unique=False)

    op.create_table(
        "span",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        sa.Column("parent_span_id", sa.String(length=16), nullable=True),
        sa.Column("segment_id", sa.String(length=16), nullable=True),
        sa.Column("is_segment", sa.Boolean(), nullable=False),
        sa.Column("service", sa.String(length=128), nullable=True),
        sa.Column("op", sa.String(length=128), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("started_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("release", sa.String(length=250), nullable=True),
        sa.Column("environment", sa.String(length=64), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("received_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_span_project_id_project")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_span")),
        sa.UniqueConstraint(
            "project_id", "trace_id", "span_id", name=op.f("uq_span_project_id_trace_id_span_id")
        ),
    )
    with op.batch_alter_table("span", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_span_started_at"), ["started_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_span_trace_id"), ["trace_id"], unique=False)

    op.create_table(
        "log_key",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "log_row_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("carrier", sa.String(length=80), nullable=False),
        sa.Column("overruled", sa.String(length=250), nullable=True),
        sa.ForeignKeyConstraint(
            ["log_row_id"],
            ["log_entry.id"],
            name=op.f("fk_log_key_log_row_id_log_entry"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_key")),
        sa.UniqueConstraint(
            "log_row_id", "name", "value", name=op.f("uq_log_key_log_row_id_name_value")
        ),
    )
    with op.batch_alter_table("log_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_log_key_value_name"), ["value", "name"], unique=False)

    op.create_table(
        "span_key",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "span_row_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("carrier", sa.String(length=80), nullable=False),
        sa.Column("overruled", sa.String(length=250), nullable=True),
        sa.ForeignKeyConstraint(
            ["span_row_id"],
            ["span.id"],
            name=op.f("fk_span_key_span_row_id_span"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_span_key")),
        sa.UniqueConstraint(
            "span_row_id", "name", "value", name=op.f("uq_span_key_span_row_id_name_value")
        ),
    )
    with op.batch_alter_table("span_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_span_key_value_name"), ["value", "name"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("span_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_span_key_value_name"))

    op.drop_table("span_key")
    with op.batch_alter_table("log_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_log_key_value_name"))

    op.drop_table("log_key")
    with op.batch_alter_table("span", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_span_trace_id"))
        batch_op.drop_index(batch_op.f("ix_span_started_at"))

    op.drop_table("span")
    with op.batch_alter_table("log_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_log_entry_trace_id"))
        batch_op.drop_index(batch_op.f("ix_log_entry_timestamp"))
        batch_op.drop_index(batch_op.f("ix_log_entry_service_id"))

    op.drop_table("log_entry")
