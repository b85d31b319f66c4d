"""Write transactions for the send path: `leadgen.db.write_scope` (kept here for the send path's imports)."""

from __future__ import annotations

from leadgen.db.engine import write_scope

__all__ = ["write_scope"]
