"""Which rows belong to a batch: SQL conditions that limit a stage's work (and counts) to one batch_tag.

A query belongs to the batch it was planned for (`serp_queries.batch_tag`); an operation and a result to their
query's batch. A company belongs to every batch whose query results found it (a company found by two batches
belongs to both), and to the batch it was first stored for (`companies.batch_tag`); a message to its company's
batches. With `batch_tag=None` every condition is true: a run without a batch works on everything.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, exists, select, true, union
from sqlalchemy.orm import aliased

from leadgen.db.models import Company, OutreachMessage, SerpOperation, SerpQuery, SerpResult


def query_in_batch(batch_tag: str | None, /) -> ColumnElement[bool]:
    """`serp_queries` rows planned for the batch."""
    return true() if batch_tag is None else SerpQuery.batch_tag == batch_tag


def operation_in_batch(batch_tag: str | None, /) -> ColumnElement[bool]:
    """`serp_operations` rows created for a query of the batch."""
    if batch_tag is None:
        return true()
    return exists().where(SerpQuery.id == SerpOperation.query_id, SerpQuery.batch_tag == batch_tag)


def batch_company_ids(batch_tag: str, /) -> Select[Any]:
    """Ids of the batch's companies: found by a result of one of its queries, or stored first for it."""
    found = (
        select(SerpResult.company_id)
        .join(SerpQuery, SerpQuery.id == SerpResult.query_id)
        .where(SerpQuery.batch_tag == batch_tag, SerpResult.company_id.is_not(None))
    )
    first = aliased(Company)  # not correlated with a statement over `companies` the condition is used in
    stored = select(first.id).where(first.batch_tag == batch_tag)
    return select(union(found, stored).subquery().c[0])


def company_in_batch(batch_tag: str | None, /) -> ColumnElement[bool]:
    """`companies` rows of the batch (see `batch_company_ids`)."""
    return true() if batch_tag is None else Company.id.in_(batch_company_ids(batch_tag))


def message_in_batch(batch_tag: str | None, /) -> ColumnElement[bool]:
    """`outreach_messages` rows of a company of the batch."""
    return true() if batch_tag is None else OutreachMessage.company_id.in_(batch_company_ids(batch_tag))
