"""Meaning in search, held to one suite on every engine that keeps vectors (docs/matching.md, "Meaning").

The mentors of the criteria conformance suite plus three written for paraphrased needs,
each with the profile vector the indexer would give it, from the real model.  A search
with a need and no words must give exactly the order and scores of the query model
evaluated in plain Python (criteria + nudge + `semantic_bonus` of the int8 cosine); with
words too, the paraphrase finds its mentor first, every hit's similarity is the reference
cosine, and the parts of the score stay within their bounds.

Engines: the embedded one, real Elasticsearch 8.19 (`dense_vector` + `knn`) and real
OpenSearch (an exact painless scan); nothing below is engine-specific.  On top, for the same
needs (text, goals, text + criteria) every engine must give the embedded engine's top 10:
the same mentors in the same order with the same scores, similarities and `match_percent`.
The stated tolerance is zero: every part of a score is a dyadic fraction and every engine
finishes the int8 cosine the same way (`meaning.cosines`), so the numbers are equal, not close.
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


def _space(embedder: Any) -> Any:
    from services.matching.adapters.search_vectors import VectorSpace

    return VectorSpace(embedder.model_id, embedder.dimensions)


def _embedded(request: pytest.FixtureRequest, embedder: Any, alias: str) -> Any:
    from services.matching.adapters.search_embedded import EmbeddedSearchIndex

    return EmbeddedSearchIndex(request.getfixturevalue("tmp_path_factory").mktemp("search"), alias,
                               space=_space(embedder))


def _elasticsearch(request: pytest.FixtureRequest, embedder: Any, alias: str) -> Any:
    from services.matching.adapters.search_dsl import DslSearchIndex, KnnVectors
    from services.matching.adapters.search_elasticsearch import ElasticsearchClient

    client = ElasticsearchClient(request.getfixturevalue("elasticsearch_url"))
    return DslSearchIndex(client, alias, vectors=KnnVectors(_space(embedder)))


def _opensearch(request: pytest.FixtureRequest, embedder: Any, alias: str) -> Any:
    from services.matching.adapters.search_dsl import DslSearchIndex, ScriptedVectors
    from services.matching.adapters.search_opensearch import OpenSearchClient

    client = OpenSearchClient(request.getfixturevalue("opensearch_url"))
    return DslSearchIndex(client, alias, vectors=ScriptedVectors(_space(embedder)))


ENGINES: dict[str, Callable[..., Any]] = {"embedded": _embedded, "elasticsearch": _elasticsearch,
                                          "opensearch": _opensearch}


@pytest.fixture(scope="module")
def engines(request: pytest.FixtureRequest, docs: list[dict[str, Any]], embedder: Any) -> Iterator[Any]:
    """Each engine's index of `docs`, made on first use (once per module)."""
    made: dict[str, Any] = {}

    def get(name: str) -> Any:
        if name not in made:
            index = ENGINES[name](request, embedder, f"meaning-{uuid.uuid4().hex[:8]}")
            index.ensure()
            build = index.begin_build()  # through a rebuild and then single upserts, as in test_conformance
            build.add(docs[:40])
            build.swap(datetime.now(timezone.utc))
            index.upsert(docs[40:])
            made[name] = index
        return made[name]

    yield get
    for index in made.values():
        client = getattr(index, "client", None)
        if client is not None:
            for name in client.alias_targets(index.alias):
                client.delete_index(name)
        index.close()


@pytest.fixture(scope="module", params=[
    "embedded",
    pytest.param("elasticsearch", marks=pytest.mark.integration),
    pytest.param("opensearch", marks=pytest.mark.integration),
])
def engine(request: pytest.FixtureRequest, engines: Callable[[str], Any]) -> Any:
    return engines(request.param)


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


# The needs of the cross-engine check: text, goals (a need without words), text + criteria.
SAME_TOP_TEN = [
    ({"text": "I keep freezing when I have to present to the board"}, "text"),
    ({"text": "I think some of the car crash claims I handle are set up deliberately"}, "text"),
    ({"goals": "I want to learn to delegate and stop doing my team's work myself"}, "mentee_goals"),
    ({"goals": "moving from claims handling into underwriting", "criteria": {"languages": ["en"]}},
     "mentee_goals"),
    ({"text": "pensions transfer advice for clients near retirement",
      "criteria": {"expertise": ["financial_planning", "claims"], "region": ["london", "wales"]}}, "text"),
    ({"text": "cyber ransomware underwriting", "criteria": {"languages": ["en"]}, "filters": {"country": ["GB"]}},
     "text"),
]


@pytest.mark.integration
@pytest.mark.parametrize("other", ["elasticsearch", "opensearch"])
@pytest.mark.parametrize("spec, source", SAME_TOP_TEN, ids=[f"{s[1]}-{i}" for i, s in enumerate(SAME_TOP_TEN)])
def test_every_engine_gives_the_embedded_top_ten(engines, embedder, other, spec, source):
    """The same mentors, order, scores, similarities and match_percent as the embedded engine."""
    need = Meaning(vector=meaning.quantise(embedder.embed([spec.get("text") or spec["goals"]]))[0],
                   source=source, model_id=embedder.model_id)
    query = _query({k: v for k, v in spec.items() if k != "goals"}, need, size=10)

    def top(index: Any) -> tuple[list[tuple[str, float, float | None, int]], int]:
        page = index.search(query)
        return [(h.member_id, h.score, h.similarity,
                 query.match_percent(query.matched(h.doc), h.score, int(h.doc.get("load_level") or 0)))
                for h in page.hits], page.total

    expected, expected_total = top(engines("embedded"))
    assert len(expected) == 10
    assert any(similarity for _m, _s, similarity, _p in expected)
    assert top(engines(other)) == (expected, expected_total)


@pytest.mark.integration
@pytest.mark.parametrize("name", ["elasticsearch", "opensearch"])
def test_an_index_made_before_vectors_keeps_serving_until_rebuilt(request, docs, embedder, name):
    """A version without vectors (made before them) takes documents and answers a need with
    words and criteria only; the rebuild through the alias swap brings meaning to it."""
    from services.matching.adapters.search_dsl import DslSearchIndex

    alias = f"before-vectors-{uuid.uuid4().hex[:8]}"
    with_vectors = ENGINES[name](request, embedder, alias)
    before = DslSearchIndex(with_vectors.client, alias)  # what the previous release made
    before.ensure()
    before.upsert([{k: v for k, v in d.items() if k != "vector"} for d in docs[:20]])
    try:
        assert not with_vectors.vectors_current()
        with_vectors.upsert(docs[20:])  # the indexer of the new release: no vector fields in the old index
        spec = {"text": "I think some of the car crash claims I handle are set up deliberately"}
        need = _need(embedder, spec["text"])
        served = with_vectors.search(_query(spec, need, size=100))
        assert served.total == before.search(_query(spec, None, size=100)).total
        assert all(h.similarity is None for h in served.hits)
        build = with_vectors.begin_build()
        build.add(docs)
        build.swap(datetime.now(timezone.utc))
        assert with_vectors.vectors_current()
        rebuilt = with_vectors.search(_query(spec, need, size=5))
        assert rebuilt.hits[0].member_id == "SEM-FRAUD"
        assert all(h.similarity is not None for h in rebuilt.hits)
    finally:
        for index_name in with_vectors.client.alias_targets(alias):
            with_vectors.client.delete_index(index_name)
        with_vectors.close()


@pytest.mark.integration
@pytest.mark.parametrize("name", ["elasticsearch", "opensearch"])
def test_the_engines_float_cosine_is_within_epsilon_of_the_exact_one(engines, docs, embedder, name):
    """The clusters' own similarities (knn score, painless scan) only bound the exact int8 cosine
    (`search_threshold.EPSILON`); the nearest list reads in that order, chunk after chunk."""
    from services.matching.adapters.search_threshold import EPSILON

    index = engines(name)
    query = _query({}, _need(embedder, "I keep freezing when I have to present to the board"))
    search = lambda body: index.client.search(index.alias, body)  # noqa: E731
    exact = {d["member_id"]: float(meaning.cosines(d["vector"], query.meaning.vector)[0]) for d in docs}
    estimates = index.vectors.estimates(search, query, sorted(exact))
    assert set(estimates) == set(exact)
    assert max(abs(estimates[m] - exact[m]) for m in exact) < EPSILON / 10  # float32 rounding: about 1e-7
    assert index.vectors.similarities(search, query, sorted(exact)) == exact
    reader = index.vectors.nearest(search, query)
    read: list[tuple[str, float]] = []
    for count in (3, 5, 40, 40):
        rows, more = reader.read(count)
        read += rows
    assert not more and sorted(m for m, _c in read) == sorted(exact)
    assert [c for _m, c in read] == sorted((c for _m, c in read), reverse=True)


@pytest.mark.integration
@pytest.mark.parametrize("name", ["elasticsearch", "opensearch"])
@pytest.mark.parametrize("spec", [{"text": "I want to move into investigating insurance fraud"},
                                  {"criteria": {"languages": ["en"], "expertise": ["claims"]}}],
                         ids=["text", "criteria+goals"])
def test_small_chunks_read_both_lists_deep_and_give_the_embedded_pages(request, engines, embedder, name, spec):
    """Chunks of a few hits make a search read the base order and the nearest order many times,
    and look mentors up by id: every page is still the embedded engine's."""
    from services.matching.adapters.search_dsl import DslSearchIndex

    need = _need(embedder, spec.get("text") or "moving from claims handling into underwriting")
    shown = engines(name)
    small = DslSearchIndex(shown.client, shown.alias, vectors=type(shown.vectors)(shown.vectors.space))
    small.first_ranked = 3
    small.vectors.first_nearest = 2

    def walk(index: Any) -> list[tuple[str, float, float | None]]:
        seen: list[tuple[str, float, float | None]] = []
        cursor = None
        while True:
            page = index.search(_query(spec, need, size=4, cursor=cursor))
            seen += [(h.member_id, h.score, h.similarity) for h in page.hits]
            cursor = page.next_cursor
            if cursor is None:
                return seen

    expected = walk(engines("embedded"))
    assert len(expected) > 8
    assert walk(small) == expected
