"""mailbox_cursors: how far each route's IMAP folder has been read (UIDVALIDITY and the last UID handled);
an index on inbound_messages.inbound_message_id for the rescan after a UIDVALIDITY change

Revision ID: 0603
Revises: 0602
Create Date: 2026-12-07 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0603"
down_revision: str | None = "0602"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mailbox_cursors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox", sa.String(length=64), nullable=False),
        sa.Column("folder", sa.String(length=255), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailbox_cursors")),
        sa.UniqueConstraint("mailbox", "folder", name="uq_mailbox_cursors_mailbox_folder"),
    )
    op.create_index(
        "ix_inbound_messages_inbound_message_id", "inbound_messages", ["inbound_message_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_inbound_messages_inbound_message_id", table_name="inbound_messages")
    op.drop_table("mailbox_cursors")
