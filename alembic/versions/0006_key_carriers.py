"""where each correlation key came from: its carrier, and the values it overruled

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 14:30:00.000000

Keys stored before get an empty carrier; `sentrail correlate --rebuild` extracts them again
from the stored payloads under the rules in force, carriers included.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("correlation_key", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("carrier", sa.String(length=80), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("overruled", sa.String(length=250), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("correlation_key", schema=None) as batch_op:
        batch_op.drop_column("overruled")
        batch_op.drop_column("carrier")
