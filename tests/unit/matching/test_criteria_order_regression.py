"""Criteria-only searches give exactly the order and scores they gave before meaning existed.

`data/criteria_order_before_meaning.json` was written by `criteria_order_fixture.py` run
against the code of main before this change (no vectors, no embedder).  Here the same
mentors are indexed by today's code, each with a profile vector, in an index that keeps
vectors: a search without text and without a need must not notice them.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from services.matching.adapters.search_embedded import EmbeddedSearchIndex
from services.matching.adapters.search_vectors import VectorSpace
from tests.unit.matching import criteria_order_fixture as fixture

EXPECTED = Path(__file__).parent / "data" / "criteria_order_before_meaning.json"


def test_criteria_only_searches_keep_the_order_and_scores_from_before_meaning(tmp_path):
    expected = json.loads(EXPECTED.read_text())
    rng = np.random.default_rng(7)
    docs = fixture.fixture_docs()
    for doc in docs:
        doc["vector"] = rng.integers(-127, 128, 384, dtype=np.int8)
    index = EmbeddedSearchIndex(tmp_path, "regression", space=VectorSpace("test-model@0", 384))
    build = index.begin_build()
    build.add(docs[:300])
    build.swap(datetime.now(timezone.utc))
    index.upsert(docs[300:])  # both write paths
    try:
        got = fixture.orders(index)
    finally:
        index.close()
    assert len(got) == len(expected) == 42
    for now, before in zip(got, expected):
        assert now["spec"] == before["spec"]
        assert now["total"] == before["total"], now["spec"]
        assert now["ranked"] == before["ranked"], now["spec"]
