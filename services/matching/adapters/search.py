"""Chooses the search adapter from `CONNECT_SEARCH_URL`."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

from connect.settings import SearchSettings
from services.matching.interfaces import Embedder, SearchIndex


def engine_url(url: str) -> tuple[str, str]:
    """`opensearch+http://h:9200` -> ("opensearch", "http://h:9200"); unset or `embedded:` -> ("embedded", "")."""
    if not url or url.startswith("embedded:"):
        return "embedded", url.partition(":")[2]
    kind, plus, rest = url.partition("+")
    if not plus or kind not in ("opensearch", "elasticsearch"):
        raise ValueError(f"CONNECT_SEARCH_URL {url!r}: expected embedded:, opensearch+http(s)://... "
                         "or elasticsearch+http(s)://...")
    return kind, rest


def build_search_index(settings: SearchSettings, var_dir: Path, embedder: Embedder | None = None) -> SearchIndex:
    """`embedder`: the model whose vectors the index keeps beside each mentor (None: searches
    have no meaning)."""
    from services.matching.adapters.search_vectors import VectorSpace

    kind, url = engine_url(settings.search_url or "")
    space = VectorSpace(embedder.model_id, embedder.dimensions) if embedder is not None else None
    if kind == "embedded":
        from services.matching.adapters.search_embedded import EmbeddedSearchIndex

        return EmbeddedSearchIndex(Path(url) if url else var_dir / "search", settings.search_index_alias,
                                   writes=settings.search_index_writes, space=space)
    from services.matching.adapters.search_dsl import DslSearchIndex, KnnVectors, ScriptedVectors

    if kind == "opensearch":
        from services.matching.adapters.search_opensearch import OpenSearchClient

        return DslSearchIndex(OpenSearchClient(url), settings.search_index_alias,
                              vectors=ScriptedVectors(space) if space is not None else None)
    from services.matching.adapters.search_elasticsearch import ElasticsearchClient

    return DslSearchIndex(ElasticsearchClient(url), settings.search_index_alias,
                          vectors=KnnVectors(space) if space is not None else None)


class DeferredSearchIndex:
    """The search index, opened on first use (and with it the embedding model, whose id and
    length its vectors are made with): for processes that may never search or index.

    Attributes set before then (`on_switch`) are set on the index when it opens."""

    def __init__(self, open_index: Callable[[], SearchIndex]) -> None:
        object.__setattr__(self, "_open_index", open_index)
        object.__setattr__(self, "_index", None)
        object.__setattr__(self, "_pending", {})
        object.__setattr__(self, "_lock", threading.Lock())

    def loaded(self) -> SearchIndex:
        with self._lock:
            if self._index is None:
                index = self._open_index()
                for name, value in self._pending.items():
                    setattr(index, name, value)
                object.__setattr__(self, "_index", index)
            return self._index

    def __getattr__(self, name: str) -> Any:  # only for names this class does not have
        return getattr(self.loaded(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        with self._lock:
            if self._index is None:
                self._pending[name] = value
                return
        setattr(self._index, name, value)
