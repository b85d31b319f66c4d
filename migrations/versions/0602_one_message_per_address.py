"""one message per address per campaign: unique (campaign, lower(to_email)) over the rows that are not skipped

Two companies can show the same address (a group of clinics, a shared free-mail box); each got its own row, so
the address was mailed twice in one campaign. Existing duplicates are settled first so the index can be built:
per (campaign, lower(to_email)) the row that went furthest (anything past `queued`, else the oldest) keeps the
address, the others become `skipped` with a reason that names the keeper and their former status.

Revision ID: 0602
Revises: 0601
Create Date: 2026-12-07 13:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0602"
down_revision: str | None = "0601"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_outreach_messages_campaign_lower_to_email"
NOT_SKIPPED = "status <> 'skipped'"
UNSENT = ("drafted", "queued")


def _settle_duplicates() -> None:
    """Mark every row but the keeper of a duplicated (campaign, lower(to_email)) as skipped."""
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT id, campaign, lower(to_email) AS address, status FROM outreach_messages "
            f"WHERE to_email IS NOT NULL AND {NOT_SKIPPED} ORDER BY id"
        )
    ).all()
    groups: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for row_id, campaign, address, status in rows:
        groups.setdefault((campaign, address), []).append((row_id, status))
    update = sa.text(
        "UPDATE outreach_messages SET status = 'skipped', last_error = :reason, next_attempt_at = NULL "
        "WHERE id = :id"
    )
    for members in groups.values():
        if len(members) < 2:
            continue
        keeper = min(members, key=lambda m: (m[1] in UNSENT, m[0]))[0]
        for row_id, status in members:
            if row_id == keeper:
                continue
            reason = f"duplicate recipient: message {keeper} of this campaign has this address"
            if status not in UNSENT:
                reason += f" (was {status} before migration 0602)"
            conn.execute(update, {"id": row_id, "reason": reason})


def upgrade() -> None:
    _settle_duplicates()
    op.create_index(
        INDEX,
        "outreach_messages",
        ["campaign", sa.text("lower(to_email)")],
        unique=True,
        sqlite_where=sa.text(NOT_SKIPPED),
        postgresql_where=sa.text(NOT_SKIPPED),
    )


def downgrade() -> None:
    # The rows skipped as duplicates stay skipped (their reason says why).
    op.drop_index(INDEX, table_name="outreach_messages")
