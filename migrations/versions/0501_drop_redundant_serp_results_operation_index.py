"""drop ix_serp_results_operation_id: the unique (operation_id, url) index already serves lookups by operation

Revision ID: 0501
Revises: 0001
Create Date: 2026-11-26 10:25:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0501"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every serp_results insert maintained this index although `uq_serp_results_operation_id_url` starts with the
    # same column; dropping it makes bulk ingest cheaper (docs/performance.md).
    with op.batch_alter_table("serp_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_serp_results_operation_id"))


def downgrade() -> None:
    with op.batch_alter_table("serp_results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_serp_results_operation_id"), ["operation_id"], unique=False)
