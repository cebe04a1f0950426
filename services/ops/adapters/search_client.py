"""The ops mirror's index port on a search cluster, written once for both client libraries.

elasticsearch-py and opensearch-py share their helpers (`bulk`, `scan`) and their
calls; they differ only in how a few calls take their arguments. Each thin adapter
names its library and those arguments; connects on first use.
"""

from __future__ import annotations

import threading
from types import ModuleType
from typing import Any, Sequence

_BATCH = 1000


class SearchClientOpsIndex:
    flat_object_type: str

    def __init__(self, url: str) -> None:
        self.url = url
        self._client: Any = None
        self._lock = threading.Lock()

    # -- what each client library does its own way ------------------------------------------------
    def _connect(self) -> Any:
        raise NotImplementedError

    def _helpers(self) -> ModuleType:
        """The library's `helpers` module (bulk, scan)."""
        raise NotImplementedError

    def _not_found(self) -> type[Exception]:
        raise NotImplementedError

    def _put_template_args(self, body: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def _mget_args(self, ids: list[str]) -> dict[str, Any]:
        raise NotImplementedError

    def _missing_index_ok(self) -> dict[str, Any]:
        """Arguments that make refresh and scan accept a pattern matching no index yet."""
        raise NotImplementedError

    # -- the port ---------------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def put_template(self, name: str, body: dict[str, Any]) -> None:
        self.client.indices.put_index_template(name=name, **self._put_template_args(body))

    def bulk(self, actions: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
        # Raises on the first refused item: the caller redoes the whole (idempotent) batch.
        self._helpers().bulk(
            self.client, ({"_index": index, "_id": doc_id, "_source": doc} for index, doc_id, doc in actions),
            chunk_size=_BATCH, max_retries=2)

    def mget(self, index: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        try:
            found = self.client.mget(index=index, **self._mget_args(list(ids)))["docs"]
        except self._not_found():  # the index does not exist yet
            return {}
        return {doc["_id"]: dict(doc["_source"]) for doc in found if doc.get("found")}

    def find(self, index_pattern: str, query: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
        self.client.indices.refresh(index=index_pattern, **self._missing_index_ok())
        return [(hit["_index"], hit["_id"], hit["_source"])
                for hit in self._helpers().scan(self.client, index=index_pattern, query={"query": query},
                                                **self._missing_index_ok())]

    def delete(self, actions: Sequence[tuple[str, str]]) -> None:
        self._helpers().bulk(
            self.client, ({"_op_type": "delete", "_index": index, "_id": doc_id} for index, doc_id in actions),
            chunk_size=_BATCH, max_retries=2)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
