"""Wire helpers of the Yandex emulator: google.rpc.Status replies and the documented searchAsync body validation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from leadgen_sandbox.serp_xml import SerpSpec

SEARCH_TYPES = frozenset({"SEARCH_TYPE_RU", "SEARCH_TYPE_TR", "SEARCH_TYPE_COM", "SEARCH_TYPE_KK", "SEARCH_TYPE_BE", "SEARCH_TYPE_UZ", "SEARCH_TYPE_UNSPECIFIED"})  # fmt: skip


class Reply(Exception):
    """End request handling with this status and JSON body."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def status(code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "details": [{"@type": "type.googleapis.com/google.rpc.RequestInfo", "requestId": str(uuid.uuid4())}],
    }


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def validate_search_body(body: Any, /, *, max_results: int, reject_unknown_fields: bool) -> SerpSpec:
    """The documented validation of a searchAsync body (camelCase or snake_case, int64 as str or int)."""
    if not isinstance(body, dict):
        raise Reply(400, status(3, "request body must be a JSON object"))
    allowed = {"query", "sortSpec", "sort_spec", "groupSpec", "group_spec", "maxPassages", "max_passages",
               "region", "l10n", "l10N", "folderId", "folder_id", "responseFormat", "response_format",
               "userAgent", "user_agent", "metadata"}  # fmt: skip
    unknown = set(body) - allowed
    if unknown and reject_unknown_fields:
        raise Reply(400, status(3, f"unknown fields: {', '.join(sorted(unknown))}"))
    query = body.get("query")
    if not isinstance(query, dict):
        raise Reply(400, status(3, "query: field is required"))
    search_type = query.get("searchType", query.get("search_type"))
    text = query.get("queryText", query.get("query_text"))
    if not search_type or search_type not in SEARCH_TYPES:
        raise Reply(400, status(3, f"query.searchType: invalid value {search_type!r}"))
    if not isinstance(text, str) or not text.strip():
        raise Reply(400, status(3, "query.queryText: field is required"))
    if len(text) > 400:
        raise Reply(400, status(3, "query.queryText: the length must be at most 400 characters"))
    group = body.get("groupSpec", body.get("group_spec")) or {}
    page = parse_int(query.get("page", 0), "query.page", 0, 10**6)
    groups = parse_int(
        group.get("groupsOnPage", group.get("groups_on_page", 20)), "groupSpec.groupsOnPage", 1, 100
    )
    docs = parse_int(group.get("docsInGroup", group.get("docs_in_group", 1)), "groupSpec.docsInGroup", 1, 3)
    passages = parse_int(body.get("maxPassages", body.get("max_passages", 4)), "maxPassages", 1, 5)
    fmt = body.get("responseFormat", body.get("response_format", "FORMAT_XML"))
    if fmt not in ("FORMAT_XML", "FORMAT_HTML", "FORMAT_UNSPECIFIED"):
        raise Reply(400, status(3, f"responseFormat: invalid value {fmt!r}"))
    region = body.get("region")
    return SerpSpec(
        query=text,
        region=str(region) if region is not None else None,
        page=page,
        groups_on_page=groups,
        docs_in_group=docs,
        max_passages=passages,
        max_results=max_results,
    )


def parse_int(value: Any, name: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise Reply(400, status(3, f"{name}: invalid int64 value {value!r}")) from None
    if not low <= number <= high:
        raise Reply(400, status(3, f"{name}: must be in [{low}, {high}]"))
    return number
