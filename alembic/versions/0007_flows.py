"""flows: a journey is one value of one flow's key; learned flow paths

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 15:00:00.000000

Journeys stored before are the "checkout" flow (what the one `[journey]` table of the rules
was). `flow_path` holds what a flow without declared hops has learned.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("journey", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("flow", sa.String(length=64), server_default="checkout", nullable=False)
        )
        batch_op.drop_constraint(batch_op.f("uq_journey_key"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_journey_flow_key"), ["flow", "key"])
        batch_op.create_index(batch_op.f("ix_journey_key"), ["key"], unique=False)

    op.create_table(
        "flow_path",
        sa.Column("flow", sa.String(length=64), nullable=False),
        sa.Column("hops", sa.JSON(), nullable=False),
        sa.Column("support", sa.JSON(), nullable=False),
        sa.Column("journeys", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("learned_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("flow", name=op.f("pk_flow_path")),
    )


def downgrade() -> None:
    op.drop_table("flow_path")
    # Journeys of other flows would collide on the key alone: only the checkout flow stays.
    op.execute("DELETE FROM journey WHERE flow <> 'checkout'")
    with op.batch_alter_table("journey", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journey_key"))
        batch_op.drop_constraint(batch_op.f("uq_journey_flow_key"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_journey_key"), ["key"])
        batch_op.drop_column("flow")
