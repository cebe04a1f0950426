"""An API process of `connect serve --workers N` opens the embedded index to search only:
it sees the indexer process's commits at its next search and never writes."""

from __future__ import annotations

import pytest

from services.matching.adapters.search_embedded import EmbeddedSearchIndex
from services.matching.domain.profiles import MentorProfile, index_document
from services.matching.domain.search import build_search


def _doc(member_id: str) -> dict:
    profile = MentorProfile(headline="Claims lead", expertise=["claims"], languages=["en"])
    return index_document(member_id, member_id, profile, 0)


def test_a_search_only_process_sees_the_indexers_commit_at_its_next_search(tmp_path):
    indexer = EmbeddedSearchIndex(tmp_path, "mentors")
    indexer.upsert([_doc("M1")])
    searcher = EmbeddedSearchIndex(tmp_path, "mentors", writes=False)
    query = build_search(criteria={"expertise": ["claims"]})
    assert [hit.member_id for hit in searcher.search(query).hits] == ["M1"]

    indexer.upsert([_doc("M2")])
    # No wait: the changed meta.json makes the searcher reload (tantivy alone lags ~0.5 s).
    assert [hit.member_id for hit in searcher.search(query).hits] == ["M1", "M2"]
    indexer.close()
    searcher.close()


def test_a_search_only_process_refuses_to_write(tmp_path):
    EmbeddedSearchIndex(tmp_path, "mentors").ensure()
    searcher = EmbeddedSearchIndex(tmp_path, "mentors", writes=False)
    with pytest.raises(RuntimeError, match="only searches"):
        searcher.upsert([_doc("M1")])
    with pytest.raises(RuntimeError, match="only searches"):
        searcher.delete(["M1"])
