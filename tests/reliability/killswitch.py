"""Kill a Postgres connection in the middle of a stage: `pg_terminate_backend` on the Nth matching statement."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Engine, create_engine, event, text


class KillSwitch:
    """Before the `nth` statement matching `pattern` runs on `engine`, terminate that connection's backend.

    The statement then fails the way a crashed or restarted server fails it (psycopg OperationalError inside
    SQLAlchemy's), in the middle of whatever transaction the stage had open. Usage::

        with KillSwitch(engine, admin_url, r"^UPDATE outreach_messages", nth=3) as switch:
            with pytest.raises(OperationalError): stage(engine, ...)
        assert switch.fired
    """

    def __init__(self, engine: Engine, admin_url: str, pattern: str, *, nth: int = 1) -> None:
        self.engine = engine
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.pattern = re.compile(pattern, re.IGNORECASE | re.DOTALL)
        self.nth = nth
        self.seen = 0
        self.fired = False

    def _before(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.fired or not self.pattern.search(statement.strip()):
            return
        self.seen += 1
        if self.seen < self.nth:
            return
        self.fired = True
        pid = cursor.connection.info.backend_pid
        with self.admin.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    def __enter__(self) -> KillSwitch:
        event.listen(self.engine, "before_cursor_execute", self._before)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        self.admin.dispose()
