"""The ops mirror's index port on OpenSearch (opensearch-py)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from services.ops.adapters.search_client import SearchClientOpsIndex


class OpenSearchOpsIndex(SearchClientOpsIndex):
    flat_object_type = "flat_object"

    def _connect(self) -> Any:
        from opensearchpy import OpenSearch

        return OpenSearch(hosts=[self.url], timeout=30, max_retries=2, retry_on_timeout=True)

    def _helpers(self) -> ModuleType:
        from opensearchpy import helpers

        return helpers

    def _not_found(self) -> type[Exception]:
        from opensearchpy import NotFoundError

        return NotFoundError

    def _put_template_args(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"body": body}

    def _mget_args(self, ids: list[str]) -> dict[str, Any]:
        return {"body": {"ids": ids}}

    def _missing_index_ok(self) -> dict[str, Any]:
        # opensearch-py passes these query parameters only through `params`, as strings.
        return {"params": {"ignore_unavailable": "true", "allow_no_indices": "true"}}
