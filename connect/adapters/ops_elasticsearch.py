"""The ops mirror's index port on Elasticsearch 8 (elasticsearch-py); connects on first use."""

from __future__ import annotations

import threading
from typing import Any


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

    def put(self, index: str, doc_id: str, doc: dict[str, Any]) -> None:
        self.client.index(index=index, id=doc_id, document=doc)

    def get(self, index: str, doc_id: str) -> dict[str, Any] | None:
        from elasticsearch import NotFoundError

        try:
            return dict(self.client.get(index=index, id=doc_id)["_source"])
        except NotFoundError:
            return None

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
