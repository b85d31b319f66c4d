"""SERP handling: parse Yandex XML pages, classify results (non-company filter), store them with their companies."""

from leadgen.serp.bulk import (
    BulkReport,
    RawResult,
    ResultRow,
    bulk_ingest,
    bulk_ingest_chunks,
    bulk_ingest_raw,
    rows_from_page,
    rows_from_raw,
)
from leadgen.serp.filter import DomainFilter
from leadgen.serp.ingest import IngestReport, ingest_page, ingest_payload, make_on_done
from leadgen.serp.parse import SerpDocument, SerpPage, clean_text, parse_serp

__all__ = [
    "BulkReport",
    "DomainFilter",
    "IngestReport",
    "RawResult",
    "ResultRow",
    "SerpDocument",
    "SerpPage",
    "bulk_ingest",
    "bulk_ingest_chunks",
    "bulk_ingest_raw",
    "clean_text",
    "ingest_page",
    "ingest_payload",
    "make_on_done",
    "parse_serp",
    "rows_from_page",
    "rows_from_raw",
]
