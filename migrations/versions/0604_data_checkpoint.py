"""outreach_messages.data_started_at: committed just before the SMTP DATA command (the send checkpoint), so
recovery tells a crash the server cannot have seen (requeue) from one it may have (unknown)

Revision ID: 0604
Revises: 0603
Create Date: 2026-12-07 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0604"
down_revision: str | None = "0603"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE on both databases (SQLite >= 3.35 adds and drops a nullable column in place): a batch
# rebuild of outreach_messages on SQLite would drop its expression index (0602's LOWER(to_email) one).


def upgrade() -> None:
    op.add_column("outreach_messages", sa.Column("data_started_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("outreach_messages", "data_started_at")
