"""The ops service's port: the little of a search cluster the mirror needs.

Two adapters, chosen by `CONNECT_SEARCH_URL` (`bootstrap.open_index`):
`adapters/opensearch.py` and `adapters/elasticsearch.py`.  The embedded shape has
no cluster and no Kibana, so no mirror.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence


class OpsIndex(Protocol):
    """The port: the little of a search cluster the mirror needs."""

    flat_object_type: str

    def put_template(self, name: str, body: dict[str, Any]) -> None: ...

    def bulk(self, actions: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
        """Index every (index, id, document) in one request; raise unless all were stored."""

    def mget(self, index: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The sources of those ids that exist (realtime: no refresh needed)."""

    def find(self, index_pattern: str, query: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
        """Every (index, id, source) matching the query, after a refresh (small result sets)."""

    def delete(self, actions: Sequence[tuple[str, str]]) -> None:
        """Delete every (index, id) in one request; raise unless all were handled."""

    def close(self) -> None: ...
