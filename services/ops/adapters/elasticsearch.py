"""The ops mirror's index port on Elasticsearch 8 (elasticsearch-py); connects on first use."""

from __future__ import annotations

import threading
from typing import Any, Sequence


class ElasticsearchOpsIndex:
    flat_object_type = "flattened"

    def __init__(self, url: str) -> None:
        self.url = url
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                from elasticsearch import Elasticsearch

                self._client = Elasticsearch(self.url, request_timeout=30, max_retries=2, retry_on_timeout=True)
            return self._client

    def put_template(self, name: str, body: dict[str, Any]) -> None:
        self.client.indices.put_index_template(name=name, **body)

    def bulk(self, actions: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
        from elasticsearch.helpers import bulk

        # Raises on the first refused item: the caller redoes the whole (idempotent) batch.
        bulk(self.client, ({"_index": index, "_id": doc_id, "_source": doc} for index, doc_id, doc in actions),
             chunk_size=1000, max_retries=2)

    def mget(self, index: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        from elasticsearch import NotFoundError

        try:
            found = self.client.mget(index=index, ids=list(ids))["docs"]
        except NotFoundError:  # the index does not exist yet
            return {}
        return {doc["_id"]: dict(doc["_source"]) for doc in found if doc.get("found")}

    def find(self, index_pattern: str, query: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
        from elasticsearch.helpers import scan

        self.client.indices.refresh(index=index_pattern, ignore_unavailable=True, allow_no_indices=True)
        return [(hit["_index"], hit["_id"], hit["_source"])
                for hit in scan(self.client, index=index_pattern, query={"query": query},
                                ignore_unavailable=True, allow_no_indices=True)]

    def delete(self, actions: Sequence[tuple[str, str]]) -> None:
        from elasticsearch.helpers import bulk

        bulk(self.client, ({"_op_type": "delete", "_index": index, "_id": doc_id} for index, doc_id in actions),
             chunk_size=1000, max_retries=2)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
