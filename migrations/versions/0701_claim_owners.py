"""companies.claimed_by and outreach_messages.claimed_by: who holds a claim (a Prefect flow run and/or a process),
so a new run releases at once the claims of a run that is finished, crashed or gone (leadgen.owners)

Revision ID: 0701
Revises: 0605
Create Date: 2026-12-07 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0701"
down_revision: str | None = "0605"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE on both databases, as 0604: a batch rebuild on SQLite would drop expression indexes.


def upgrade() -> None:
    op.add_column("companies", sa.Column("claimed_by", sa.String(255), nullable=True))
    op.add_column("outreach_messages", sa.Column("claimed_by", sa.String(255), nullable=True))


def downgrade() -> None:
    op.drop_column("outreach_messages", "claimed_by")
    op.drop_column("companies", "claimed_by")
