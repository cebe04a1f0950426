"""The ops mirror's index port on OpenSearch (opensearch-py); connects on first use."""

from __future__ import annotations

import threading
from typing import Any, Sequence


class OpenSearchOpsIndex:
    flat_object_type = "flat_object"

    def __init__(self, url: str) -> None:
        self.url = url
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                from opensearchpy import OpenSearch

                self._client = OpenSearch(hosts=[self.url], timeout=30, max_retries=2, retry_on_timeout=True)
            return self._client

    def put_template(self, name: str, body: dict[str, Any]) -> None:
        self.client.indices.put_index_template(name=name, body=body)

    def bulk(self, actions: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
        from opensearchpy.helpers import bulk

        # Raises on the first refused item: the caller redoes the whole (idempotent) batch.
        bulk(self.client, ({"_index": index, "_id": doc_id, "_source": doc} for index, doc_id, doc in actions),
             chunk_size=1000, max_retries=2)

    def mget(self, index: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        from opensearchpy import NotFoundError

        try:
            found = self.client.mget(index=index, body={"ids": list(ids)})["docs"]
        except NotFoundError:  # the index does not exist yet
            return {}
        return {doc["_id"]: dict(doc["_source"]) for doc in found if doc.get("found")}

    def find(self, index_pattern: str, query: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
        from opensearchpy.helpers import scan

        self.client.indices.refresh(index=index_pattern, params={"ignore_unavailable": "true",
                                                                  "allow_no_indices": "true"})
        return [(hit["_index"], hit["_id"], hit["_source"])
                for hit in scan(self.client, index=index_pattern, query={"query": query},
                                params={"ignore_unavailable": "true", "allow_no_indices": "true"})]

    def delete(self, actions: Sequence[tuple[str, str]]) -> None:
        from opensearchpy.helpers import bulk

        bulk(self.client, ({"_op_type": "delete", "_index": index, "_id": doc_id} for index, doc_id in actions),
             chunk_size=1000, max_retries=2)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
