"""send_permits: the rate-limit slots a send run holds unused, by owner, so a crashed run's are returned (issue 21).

A send run takes `email-daily` slots a few at a time instead of one request per message; this table records how
many it holds and has not used, so the next run returns a crashed owner's slots to the limit.

Revision ID: 0720
Revises: 0719
Create Date: 2026-12-07 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0720"
down_revision: str | None = "0719"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "send_permits",
        sa.Column("owner", sa.String(255), primary_key=True),
        sa.Column("held", sa.Integer(), nullable=False),
        *(
            sa.Column(name, sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False)
            for name in ("created_at", "updated_at")
        ),
    )


def downgrade() -> None:
    op.drop_table("send_permits")
