"""one spelling for domains (issue 19): opt-out values, outreach recipients and bounce addresses written in
punycode (`info@xn--e1afmkfd.xn--p1ai`) are rewritten in the canonical Unicode form of leadgen.domains
(`info@пример.рф`), the form companies and contacts already hold, so SQL equality between them holds.

A row whose Unicode spelling is taken already is left as it is (opt-outs: the punycode duplicate is deleted, the
Unicode entry covers it); lookups in code accept both spellings either way. Downgrade changes nothing: the
Unicode values are valid for the older code's lookups, which compare both spellings too.

Revision ID: 0719
Revises: 0701
Create Date: 2026-12-07 16:00:00
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from leadgen.domains import domain_key, email_key

revision: str = "0719"
down_revision: str | None = "0701"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _opt_out_key(kind: str, value: str) -> str:
    return email_key(value) if kind == "email" else (domain_key(value) or value)


def _rewrite(table: str, column: str, key: Callable[[sa.Row[tuple[object, ...]]], str], *, scope: str = "",
             drop_duplicate: bool = False, extra: str = "") -> None:  # fmt: skip
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(f"SELECT * FROM {table} WHERE {column} LIKE '%xn--%' {extra} ORDER BY id")
    ).all()
    for row in rows:
        new = key(row)
        if new == getattr(row, column):
            continue
        same_scope = f" AND {scope} = :scope" if scope else ""
        taken = conn.execute(
            sa.text(f"SELECT 1 FROM {table} WHERE lower({column}) = :new AND id <> :id{same_scope}"),
            {"new": new, "id": row.id, "scope": getattr(row, scope) if scope else None},
        ).first()
        if taken is None:
            conn.execute(sa.text(f"UPDATE {table} SET {column} = :new WHERE id = :id"), {"new": new, "id": row.id})
        elif drop_duplicate:
            conn.execute(sa.text(f"DELETE FROM {table} WHERE id = :id"), {"id": row.id})


def upgrade() -> None:
    _rewrite("opt_out_registry", "value", lambda r: _opt_out_key(str(r.kind), str(r.value)),
             drop_duplicate=True, extra="AND kind IN ('email', 'domain')")  # fmt: skip
    _rewrite("outreach_messages", "to_email", lambda r: email_key(str(r.to_email)), scope="campaign")
    _rewrite("address_bounces", "address", lambda r: email_key(str(r.address)))


def downgrade() -> None:
    pass
