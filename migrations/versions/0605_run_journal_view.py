"""run journal: the daily_runs view (per UTC day and stage: runs, completed, failed, total duration) over
processing_jobs, which every flow now writes

Revision ID: 0605
Revises: 0604
Create Date: 2026-12-07 14:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from leadgen.db.views import daily_runs_sql

revision: str = "0605"
down_revision: str | None = "0604"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(daily_runs_sql(op.get_bind().dialect.name))


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS daily_runs")
