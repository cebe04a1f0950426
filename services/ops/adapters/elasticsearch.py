"""The ops mirror's index port on Elasticsearch 8 (elasticsearch-py)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from services.ops.adapters.search_client import SearchClientOpsIndex


class ElasticsearchOpsIndex(SearchClientOpsIndex):
    flat_object_type = "flattened"

    def _connect(self) -> Any:
        from elasticsearch import Elasticsearch

        return Elasticsearch(self.url, request_timeout=30, max_retries=2, retry_on_timeout=True)

    def _helpers(self) -> ModuleType:
        from elasticsearch import helpers

        return helpers

    def _not_found(self) -> type[Exception]:
        from elasticsearch import NotFoundError

        return NotFoundError

    def _put_template_args(self, body: dict[str, Any]) -> dict[str, Any]:
        return body  # elasticsearch-py 8 takes the template's parts as keyword arguments

    def _mget_args(self, ids: list[str]) -> dict[str, Any]:
        return {"ids": ids}

    def _missing_index_ok(self) -> dict[str, Any]:
        return {"ignore_unavailable": True, "allow_no_indices": True}
