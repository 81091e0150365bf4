"""sessions as Relay counts them: unhandled sessions, errored once per session

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 12:00:00.000000

`session_count.errored` now counts every session that saw an error, crashed and abnormal ones
included (collector/sessions.py); rows written before held the errored-only share, so the
crashed and abnormal sessions are added to it. `session_state.errored` remembers that a session
was counted as errored.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("session_count", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "unhandled",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                server_default="0",
                nullable=False,
            )
        )
    with op.batch_alter_table("session_state", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("errored", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.execute("UPDATE session_count SET errored = errored + crashed + abnormal")
    op.execute(
        "UPDATE session_state SET errored = TRUE "
        "WHERE outcome IN ('errored', 'crashed', 'abnormal')"
    )


def downgrade() -> None:
    op.execute("UPDATE session_count SET errored = errored - crashed - abnormal - unhandled")
    with op.batch_alter_table("session_state", schema=None) as batch_op:
        batch_op.drop_column("errored")
    with op.batch_alter_table("session_count", schema=None) as batch_op:
        batch_op.drop_column("unhandled")
