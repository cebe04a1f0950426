"""Chooses the search adapter from `CONNECT_SEARCH_URL`."""

from __future__ import annotations

from pathlib import Path

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
    kind, url = engine_url(settings.search_url or "")
    if kind == "embedded":
        from services.matching.adapters.search_embedded import EmbeddedSearchIndex
        from services.matching.adapters.search_vectors import VectorSpace

        space = VectorSpace(embedder.model_id, embedder.dimensions) if embedder is not None else None
        return EmbeddedSearchIndex(Path(url) if url else var_dir / "search", settings.search_index_alias,
                                   writes=settings.search_index_writes, space=space)
    from services.matching.adapters.search_dsl import DslSearchIndex, KnnVectors, ScriptedVectors
    from services.matching.adapters.search_vectors import VectorSpace

    space = VectorSpace(embedder.model_id, embedder.dimensions) if embedder is not None else None
    if kind == "opensearch":
        from services.matching.adapters.search_opensearch import OpenSearchClient

        return DslSearchIndex(OpenSearchClient(url), settings.search_index_alias,
                              vectors=ScriptedVectors(space) if space is not None else None)
    from services.matching.adapters.search_elasticsearch import ElasticsearchClient

    return DslSearchIndex(ElasticsearchClient(url), settings.search_index_alias,
                          vectors=KnnVectors(space) if space is not None else None)
