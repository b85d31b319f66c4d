"""Storage: typed models, engine/session helpers, migrations runner and view SQL."""

from leadgen.db.engine import check_connection, make_engine, session_factory, session_scope
from leadgen.db.models import (
    Base,
    Company,
    CompanyStatus,
    Contact,
    ContactKind,
    ContactSource,
    JobStatus,
    MessageStatus,
    OperationStatus,
    OptOut,
    OptOutKind,
    OutreachMessage,
    ProcessingJob,
    QueryStatus,
    SerpOperation,
    SerpQuery,
    SerpResult,
)
from leadgen.db.types import utcnow

__all__ = [
    "Base",
    "Company",
    "CompanyStatus",
    "Contact",
    "ContactKind",
    "ContactSource",
    "JobStatus",
    "MessageStatus",
    "OperationStatus",
    "OptOut",
    "OptOutKind",
    "OutreachMessage",
    "ProcessingJob",
    "QueryStatus",
    "SerpOperation",
    "SerpQuery",
    "SerpResult",
    "check_connection",
    "make_engine",
    "session_factory",
    "session_scope",
    "utcnow",
]
