"""OpenSearch 2.x/3.x through opensearch-py (`CONNECT_SEARCH_URL=opensearch+http://host:port`)."""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

from services.matching.interfaces import SearchUnavailable

T = TypeVar("T")


def _guard(call: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(call)
    def guarded(*args: Any, **kwargs: Any) -> T:
        from opensearchpy.exceptions import ConnectionError, ConnectionTimeout, TransportError

        try:
            return call(*args, **kwargs)
        except (ConnectionError, ConnectionTimeout) as exc:
            raise SearchUnavailable(f"OpenSearch did not answer: {exc}") from exc
        except TransportError as exc:
            if isinstance(exc.status_code, int) and exc.status_code >= 500:
                raise SearchUnavailable(f"OpenSearch failed: {exc}") from exc
            raise

    return guarded


class OpenSearchClient:
    """The DslClient calls on opensearch-py; the client is created on first use."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            from opensearchpy import OpenSearch

            self._client = OpenSearch(hosts=[self.url], timeout=self.timeout, max_retries=2, pool_maxsize=16,
                                      retry_on_timeout=True)
        return self._client

    @_guard
    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.client.search(index=index, body=body)

    @_guard
    def bulk(self, operations: list[dict[str, Any]], refresh: str | bool) -> dict[str, Any]:
        return self.client.bulk(body=operations, refresh=str(refresh).lower() if isinstance(refresh, bool)
                                else refresh)

    @_guard
    def alias_targets(self, alias: str) -> list[str]:
        from opensearchpy.exceptions import NotFoundError

        try:
            return sorted(self.client.indices.get_alias(name=alias))
        except NotFoundError:
            return []

    @_guard
    def create_index(self, name: str, settings: dict[str, Any], mappings: dict[str, Any],
                     aliases: dict[str, Any] | None = None, exist_ok: bool = False) -> None:
        body: dict[str, Any] = {"settings": settings, "mappings": mappings}
        if aliases:
            body["aliases"] = aliases
        from opensearchpy.exceptions import RequestError

        try:
            self.client.indices.create(index=name, body=body)
        except RequestError as exc:
            if not (exist_ok and exc.error == "resource_already_exists_exception"):
                raise

    @_guard
    def mappings(self, alias: str) -> dict[str, dict[str, Any]]:
        from opensearchpy.exceptions import NotFoundError

        try:
            found = self.client.indices.get_mapping(index=alias)
        except NotFoundError:
            return {}
        return {name: body.get("mappings", {}) for name, body in found.items()}

    @_guard
    def put_settings(self, name: str, settings: dict[str, Any]) -> None:
        self.client.indices.put_settings(index=name, body={"index": settings})

    @_guard
    def refresh(self, name: str) -> None:
        self.client.indices.refresh(index=name)

    @_guard
    def update_aliases(self, actions: list[dict[str, Any]]) -> None:
        self.client.indices.update_aliases(body={"actions": actions})

    @_guard
    def delete_index(self, name: str) -> None:
        self.client.indices.delete(index=name, params={"ignore_unavailable": "true"})

    @_guard
    def count(self, index: str) -> int:
        return int(self.client.count(index=index)["count"])

    @_guard
    def ping(self) -> None:
        self.client.info()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
