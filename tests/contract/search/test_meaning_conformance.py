"""Meaning in search, held to one suite on every engine that keeps vectors (docs/matching.md, "Meaning").

The mentors of the criteria conformance suite plus three written for paraphrased needs,
each with the profile vector the indexer would give it, from the real model.  A search
with a need and no words must give exactly the order and scores of the query model
evaluated in plain Python (criteria + nudge + `semantic_bonus` of the int8 cosine); with
words too, the paraphrase finds its mentor first, every hit's similarity is the reference
cosine, and the parts of the score stay within their bounds.

Engines: the embedded one now.  Elasticsearch and OpenSearch join `ENGINES` once their
adapters keep vectors (phase B of issue 17); nothing below is engine-specific.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

import numpy as np
import pytest

from connect.settings import EmbeddingSettings
from services.matching.adapters.embedder_onnx import load_embedder
from services.matching.domain import meaning
from services.matching.domain.profiles import Location, MentorProfile, index_document
from services.matching.domain.search import Cursor, Meaning, SearchQuery, build_search
from tests.contract.search.test_conformance import DOCS as CRITERIA_DOCS


@pytest.fixture(scope="module")
def embedder() -> Any:
    return load_embedder(EmbeddingSettings())


def _paraphrase_docs() -> list[dict[str, Any]]:
    def mentor(member_id: str, headline: str, bio: str, expertise: list[str]) -> dict[str, Any]:
        return index_document(member_id, member_id.title(), MentorProfile(
            headline=headline, bio=bio, expertise=expertise, sectors=["general_insurance"], languages=["en"],
            career_stage="senior", location=Location("GB", "london")), 1)

    return [
        mentor("SEM-FRAUD", "Special investigations lead",
               "I help investigators spot staged accidents and exaggerated losses.", ["fraud"]),
        mentor("SEM-DELEGATE", "Operations director",
               "I help busy leaders hand work over to their team and stop doing everything themselves.",
               ["leadership"]),
        mentor("SEM-RETURN", "Account executive",
               "I mentor parents coming back to work after maternity or paternity leave.", ["work_life_balance"]),
    ]


# need, extra request parts, the mentor it was written for (no word of the need is in its profile
# except stop words, so the words alone cannot find it)
PARAPHRASES = [
    ("I think some of the car crash claims I handle are set up deliberately", {}, "SEM-FRAUD"),
    ("going back to the office after a year at home with my baby", {"criteria": {"languages": "en"}},
     "SEM-RETURN"),
]


@pytest.fixture(scope="module")
def docs(embedder: Any) -> list[dict[str, Any]]:
    def vectors_of(texts: list[str]) -> dict[str, np.ndarray]:
        return dict(zip(texts, meaning.quantise(embedder.embed(texts))))

    return meaning.attach_vectors([dict(d) for d in CRITERIA_DOCS] + _paraphrase_docs(), vectors_of)


def _embedded(docs: list[dict[str, Any]], embedder: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from services.matching.adapters.search_embedded import EmbeddedSearchIndex
    from services.matching.adapters.search_vectors import VectorSpace

    return EmbeddedSearchIndex(tmp_path_factory.mktemp("search"), f"meaning-{uuid.uuid4().hex[:8]}",
                               space=VectorSpace(embedder.model_id, embedder.dimensions))


ENGINES: dict[str, Callable[..., Any]] = {"embedded": _embedded}


@pytest.fixture(scope="module", params=sorted(ENGINES))
def engine(request: pytest.FixtureRequest, docs: list[dict[str, Any]], embedder: Any,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    index = ENGINES[request.param](docs, embedder, tmp_path_factory)
    index.ensure()
    build = index.begin_build()  # through a rebuild and then single upserts, as in test_conformance
    build.add(docs[:40])
    build.swap(datetime.now(timezone.utc))
    index.upsert(docs[40:])
    yield index
    index.close()


def _need(embedder: Any, text: str) -> Meaning:
    return Meaning(vector=meaning.quantise(embedder.embed([text]))[0], source="text", model_id=embedder.model_id)


def _query(spec: dict[str, Any], need: Meaning | None, size: int = 100, cursor: Cursor | None = None) -> SearchQuery:
    return build_search(text=spec.get("text"), criteria=spec.get("criteria"), weights=spec.get("weights"),
                        filters=spec.get("filters"), exclude_ids=spec.get("exclude_ids", ()), size=size,
                        cursor=cursor, meaning=need)


def _reference(docs: list[dict[str, Any]], query: SearchQuery) -> list[tuple[str, float]]:
    """The query model with a need and no words, in plain Python."""
    assert query.meaning is not None and not query.text_terms
    candidates = [d for d in docs if d["member_id"] not in query.exclude_ids
                  and all(f.met_by(d) is not None for f in query.filters)]
    sims = {d["member_id"]: float(meaning.cosines(d["vector"], query.meaning.vector)[0]) for d in candidates}
    bonus = {m: float(query.semantic_bonus(np.array([s]))[0]) for m, s in sims.items()}
    near = sorted((m for m in sims if bonus[m] > 0), key=lambda m: (-sims[m], m))[:meaning.SEMANTIC_CANDIDATES]
    ranked = []
    for doc in candidates:
        met = query.matched(doc)
        if not met and doc["member_id"] not in near:
            continue
        score = sum(m["weight"] for m in met) + query.nudge(doc["load_level"]) + bonus[doc["member_id"]]
        ranked.append((doc["member_id"], score))
    return sorted(ranked, key=lambda r: (-r[1], r[0]))


NEED_ONLY = [
    {},
    {"criteria": {"expertise": ["leadership", "claims"]}},
    {"criteria": {"sectors": ["general_insurance"], "languages": ["en"], "years_experience": 10},
     "weights": {"sectors": 4}},
    {"criteria": {"region": ["london"]}, "filters": {"languages": ["en"]}, "exclude_ids": ["SEM-FRAUD"]},
    {"filters": {"country": ["GB"]}},  # a filter the embedded engine's columns cannot answer
]


@pytest.mark.parametrize("spec", NEED_ONLY, ids=lambda s: ",".join([*s.get("criteria", {}), *s.get("filters", {})])
                         or "need-only")
def test_a_need_without_words_gives_the_reference_order_and_scores(engine, docs, embedder, spec):
    query = _query(spec, _need(embedder, "my team leans on me for everything and I cannot let go"))
    page = engine.search(query)
    expected = _reference(docs, query)
    assert expected, "the need must list someone"
    assert page.total == len(expected)
    assert [(h.member_id, h.score) for h in page.hits] == expected[:100]


@pytest.mark.parametrize("text, extra, top", PARAPHRASES, ids=[p[2] for p in PARAPHRASES])
def test_a_paraphrased_need_finds_the_mentor_written_for_it(engine, docs, embedder, text, extra, top):
    query = _query({"text": text, **extra}, _need(embedder, text), size=5)
    page = engine.search(query)
    assert page.hits[0].member_id == top, [(h.member_id, h.score) for h in page.hits]
    # Without the need, the words alone do not find it first.
    lexical = engine.search(_query({"text": text, **extra}, None, size=5))
    assert not lexical.hits or lexical.hits[0].member_id != top


@pytest.mark.parametrize("text, extra, top", PARAPHRASES, ids=[p[2] for p in PARAPHRASES])
def test_each_hit_carries_the_reference_similarity_and_bounded_parts(engine, docs, embedder, text, extra, top):
    need = _need(embedder, text)
    query = _query({"text": text, **extra}, need)
    by_id = {d["member_id"]: d for d in docs}
    for hit in engine.search(query).hits:
        cosine = float(meaning.cosines(by_id[hit.member_id]["vector"], need.vector)[0])
        assert hit.similarity == cosine
        bonus = float(query.semantic_bonus(np.array([cosine]))[0])
        words = hit.score - sum(m["weight"] for m in query.matched(hit.doc)) - query.nudge(hit.doc["load_level"]) - bonus
        assert 0 <= bonus <= query.semantic_max
        assert -1e-9 <= words <= query.lexical_max + 1e-9
        # Text relevance never reaches the smallest weight asked.
        assert bonus + words <= query.text_max < query.smallest_weight


def test_paging_with_a_need_walks_the_same_list(engine, docs, embedder):
    spec = {"text": "I want to move into investigating insurance fraud", "criteria": {"languages": ["en"]}}
    need = _need(embedder, spec["text"])
    full = [h.member_id for h in engine.search(_query(spec, need)).hits]
    seen: list[str] = []
    cursor = None
    while True:
        page = engine.search(_query(spec, need, size=7, cursor=cursor))
        seen += [h.member_id for h in page.hits]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == full and len(full) > 7


def test_a_cursor_belongs_to_its_need(engine, embedder):
    """The need is part of the query's fingerprint, which the API seals a cursor with: a cursor
    of one need does not open for another, nor for the same criteria without a need."""
    from connect.cursors import CursorCodec, InvalidCursor

    spec = {"criteria": {"languages": ["en"]}}
    asked = _query(spec, _need(embedder, "claims fraud"), size=5)
    first = engine.search(asked)
    assert first.next_cursor
    codec = CursorCodec(b"k" * 32)
    sealed = codec.seal(first.next_cursor.values(), kind="search", member_id="S", query=asked.fingerprint)
    assert codec.open(sealed, kind="search", member_id="S", query=asked.fingerprint, path="page.cursor")
    for other in (_query(spec, _need(embedder, "pensions advice"), size=5), _query(spec, None, size=5)):
        with pytest.raises(InvalidCursor):
            codec.open(sealed, kind="search", member_id="S", query=other.fingerprint, path="page.cursor")
