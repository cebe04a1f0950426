"""Elasticsearch 8.x through elasticsearch-py 8.x (`CONNECT_SEARCH_URL=elasticsearch+http://host:port`).

A 9.x client refuses 8.x servers and no elasticsearch-py talks to OpenSearch,
hence a separate adapter over the same DSL (search_dsl.py).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

from services.matching.interfaces import SearchUnavailable

T = TypeVar("T")


def _body(response: Any) -> Any:
    return getattr(response, "body", response)


def _guard(call: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(call)
    def guarded(*args: Any, **kwargs: Any) -> T:
        from elastic_transport import ConnectionError, ConnectionTimeout
        from elasticsearch import ApiError

        try:
            return call(*args, **kwargs)
        except (ConnectionError, ConnectionTimeout) as exc:
            raise SearchUnavailable(f"Elasticsearch did not answer: {exc}") from exc
        except ApiError as exc:
            if exc.meta.status >= 500:
                raise SearchUnavailable(f"Elasticsearch failed: {exc}") from exc
            raise

    return guarded


class ElasticsearchClient:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            from elasticsearch import Elasticsearch

            self._client = Elasticsearch(self.url, request_timeout=self.timeout, max_retries=2,
                                         retry_on_timeout=True)
        return self._client

    @_guard
    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        return _body(self.client.search(index=index, **body))

    @_guard
    def bulk(self, operations: list[dict[str, Any]], refresh: str | bool) -> dict[str, Any]:
        return _body(self.client.bulk(operations=operations, refresh=refresh))

    @_guard
    def alias_targets(self, alias: str) -> list[str]:
        from elasticsearch import NotFoundError

        try:
            return sorted(_body(self.client.indices.get_alias(name=alias)))
        except NotFoundError:
            return []

    @_guard
    def create_index(self, name: str, settings: dict[str, Any], mappings: dict[str, Any],
                     aliases: dict[str, Any] | None = None, exist_ok: bool = False) -> None:
        from elasticsearch import BadRequestError

        try:
            self.client.indices.create(index=name, settings=settings, mappings=mappings, aliases=aliases)
        except BadRequestError as exc:
            if not (exist_ok and exc.error == "resource_already_exists_exception"):
                raise

    @_guard
    def mappings(self, alias: str) -> dict[str, dict[str, Any]]:
        from elasticsearch import NotFoundError

        try:
            found = _body(self.client.indices.get_mapping(index=alias))
        except NotFoundError:
            return {}
        return {name: body.get("mappings", {}) for name, body in found.items()}

    @_guard
    def put_settings(self, name: str, settings: dict[str, Any]) -> None:
        self.client.indices.put_settings(index=name, settings={"index": settings})

    @_guard
    def refresh(self, name: str) -> None:
        self.client.indices.refresh(index=name)

    @_guard
    def update_aliases(self, actions: list[dict[str, Any]]) -> None:
        self.client.indices.update_aliases(actions=actions)

    @_guard
    def delete_index(self, name: str) -> None:
        self.client.indices.delete(index=name, ignore_unavailable=True)

    @_guard
    def count(self, index: str) -> int:
        return int(_body(self.client.count(index=index))["count"])

    @_guard
    def ping(self) -> None:
        self.client.info()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
