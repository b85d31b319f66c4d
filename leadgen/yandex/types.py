"""Values exchanged with Search API v2: the deferred search request body and the Operation it returns."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from leadgen.errors import OperationFailed, YandexUnavailable
from leadgen.settings import Settings
from leadgen.yandex.errormap import as_code

MAX_QUERY_CHARS = 400  # documented limit of queryText
URLSAFE_TO_STD = str.maketrans("-_", "+/")
RESPONSE_TYPE = "type.googleapis.com/yandex.cloud.searchapi.v2.WebSearchResponse"


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """One deferred web search: query text, region and page (0-based) plus grouping options."""

    query_text: str
    region: str | None = None
    page: int = 0
    search_type: str = "SEARCH_TYPE_RU"
    groups_on_page: int = 50
    docs_in_group: int = 1
    max_passages: int = 2

    @classmethod
    def from_settings(
        cls, settings: Settings, query_text: str, /, *, region: str | None = None, page: int = 0
    ) -> SearchRequest:
        return cls(
            query_text=query_text,
            region=region,
            page=page,
            search_type=settings.yandex_search_type,
            groups_on_page=settings.yandex_groups_on_page,
            docs_in_group=settings.yandex_docs_in_group,
            max_passages=settings.yandex_max_passages,
        )

    def to_body(self, *, folder_id: str | None) -> dict[str, Any]:
        """The REST body: camelCase keys, int64 values as strings (proto3 JSON), XML response format."""
        body: dict[str, Any] = {
            "query": {
                "searchType": self.search_type,
                "queryText": self.query_text,
                "familyMode": "FAMILY_MODE_MODERATE",
                "page": str(self.page),
            },
            "groupSpec": {
                "groupMode": "GROUP_MODE_DEEP",
                "groupsOnPage": str(self.groups_on_page),
                "docsInGroup": str(self.docs_in_group),
            },
            "maxPassages": str(self.max_passages),
            "l10n": "LOCALIZATION_RU",
            "responseFormat": "FORMAT_XML",
        }
        if self.region:
            body["region"] = str(self.region)
        if folder_id:
            body["folderId"] = folder_id
        return body


@dataclass(frozen=True, slots=True)
class Operation:
    """A Yandex Cloud Operation as returned by searchAsync and GET /operations/{id} (`done` absent = false)."""

    id: str
    done: bool
    raw_data: str | None = None
    error_code: int | None = None
    error_message: str | None = None
    has_response: bool = False
    created_at: str | None = None
    modified_at: str | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any], /) -> Operation:
        op_id = body.get("id")
        if not isinstance(op_id, str) or not op_id:
            raise YandexUnavailable("operation JSON has no id")
        error = body.get("error")
        response = body.get("response")
        raw = response.get("rawData") if isinstance(response, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        return cls(
            id=op_id,
            done=bool(body.get("done", False)),
            raw_data=raw if isinstance(raw, str) else None,
            error_code=(as_code(code) or 0) if error is not None else None,
            error_message=str(message) if message is not None else None,
            has_response=isinstance(response, dict),
            created_at=body.get("createdAt"),
            modified_at=body.get("modifiedAt"),
        )

    @property
    def failed(self) -> bool:
        """Any present error is terminal, even while `done` is still false (generic Operation contract)."""
        return self.error_code is not None

    @property
    def finished(self) -> bool:
        return self.done or self.failed

    def result_bytes(self) -> bytes:
        """The decoded rawData (UTF-8 XML); OperationFailed when the operation failed or the payload is unusable."""
        if self.failed:
            raise OperationFailed(
                f"operation {self.id} failed: code {self.error_code}: {self.error_message or 'no message'}",
                operation_id=self.id,
                code=self.error_code,
            )
        if not self.done:
            raise OperationFailed(f"operation {self.id} is not done yet", operation_id=self.id)
        if self.raw_data is None:
            what = "response without rawData" if self.has_response else "neither response nor error"
            raise OperationFailed(f"operation {self.id} is done with {what}", operation_id=self.id)
        try:  # the common case first: standard alphabet, padded, no whitespace (what strict mode accepts)
            return binascii.a2b_base64(self.raw_data, strict_mode=True)
        except (binascii.Error, ValueError):
            pass
        try:
            # proto3 JSON readers accept standard and URL-safe alphabets, with or without padding
            text = "".join(self.raw_data.split()).translate(URLSAFE_TO_STD)
            return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
            raise OperationFailed(
                f"operation {self.id}: rawData is not valid base64 ({exc})", operation_id=self.id
            ) from None
