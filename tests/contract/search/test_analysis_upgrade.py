"""Upgrading a cluster index made when the cluster stemmed the text itself (analysis version 1,
tests/contract/search/earlier_index.py) to the shared analysis (`search_analysis`).

Until it is rebuilt, the earlier index is written and searched as it was made: a query word sent
as tantivy's token to a field of Lucene stems would silently miss ("evening" is not "even").
The rebuild (the alias swap) brings the shared tokens."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

import pytest

from services.matching.adapters.search_dsl import ANALYSIS_VERSION, DslSearchIndex, analysis_of
from services.matching.domain.search import build_search
from tests.contract.search import earlier_index
from tests.contract.search.test_conformance import DOCS

pytestmark = pytest.mark.integration

STEM_DOCS = [doc for doc in DOCS if doc["member_id"].startswith("STEM-")]


def _client(request: pytest.FixtureRequest, name: str) -> Any:
    if name == "opensearch":
        from services.matching.adapters.search_opensearch import OpenSearchClient

        return OpenSearchClient(request.getfixturevalue("opensearch_url"))
    from services.matching.adapters.search_elasticsearch import ElasticsearchClient

    return ElasticsearchClient(request.getfixturevalue("elasticsearch_url"))


def _listed(index: DslSearchIndex, text: str) -> list[str]:
    return [hit.member_id for hit in index.search(build_search(text=text, size=20)).hits]


@pytest.mark.parametrize("name", ["elasticsearch", "opensearch"])
def test_an_index_the_cluster_stemmed_is_served_as_made_until_rebuilt(request, name):
    client = _client(request, name)
    alias = f"analysis-upgrade-{uuid.uuid4().hex[:8]}"
    # What the earlier release left: its settings and mappings, its documents as it wrote them.
    client.create_index(f"{alias}-v0", earlier_index.SETTINGS, earlier_index.MAPPINGS, aliases={alias: {}})
    ops: list[dict[str, Any]] = []
    for doc in STEM_DOCS[:-1]:
        ops += [{"index": {"_index": alias, "_id": doc["member_id"]}}, doc]
    client.bulk(ops, refresh="wait_for")
    index = DslSearchIndex(client, alias)
    serving = DslSearchIndex(client, alias)  # another process, which only searches
    try:
        assert not index.analysis_current()
        index.upsert(STEM_DOCS[-1:])  # the new release's indexer, writing into the earlier index
        # Served as made: the cluster stems "evenings" and "even" alike, and "organ" finds the
        # document written by the new release (its text sent as written, not as tokens).
        assert _listed(index, "evenings") == _listed(serving, "evenings") == ["STEM-EVEN", "STEM-EVENINGS"]
        assert _listed(index, "organ") == ["STEM-ORGANIZATION", "STEM-ORGAN"]  # headline above bio
        assert index.search(build_search(text="evenings")).hits[0].doc["bio"] == "An even hand with difficult cases."

        build = index.begin_build()
        build.add(STEM_DOCS)
        build.swap(datetime.now(timezone.utc))
        assert index.analysis_current()
        assert [analysis_of(m) for m in client.mappings(alias).values()] == [ANALYSIS_VERSION]
        assert _listed(index, "evenings") == ["STEM-EVENINGS"]
        # The searching process learns of the swap from the answer: the earlier index's way of
        # searching finds nothing in the new one, and it asks again which index is live.
        _listed(serving, "evenings")
        assert _listed(serving, "evenings") == ["STEM-EVENINGS"]
        assert _listed(index, "organ") == ["STEM-ORGAN"]
        assert index.search(build_search(text="evenings")).hits[0].doc["bio"] == "Free most evenings after six."
    finally:
        for index_name in client.alias_targets(alias):
            client.delete_index(index_name)
        index.close()
        serving.close()
