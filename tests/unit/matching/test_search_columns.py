"""The criteria columns answer exactly as the engine path does: the same hits in the same order,
the same float scores, totals and cursors, page after page, over random mentors (ids sharing
their id key, deleted and re-indexed documents) and random criteria-only searches.  Indexes
without the columns' fields, and values their saved layout does not know, go to the engine."""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone

import pytest
import tantivy

from services.matching.adapters import search_columns, search_embedded
from services.matching.adapters.search_columns import BitLayout, Columns
from services.matching.adapters.search_embedded import EmbeddedSearchIndex, build_schema, to_document
from schemas import taxonomy
from services.matching.domain.profiles import Location, MentorProfile, index_document
from services.matching.domain import meaning
from services.matching.domain.search import CRITERIA, Meaning, build_search

VOCABULARY_OF = {spec.name: spec.vocabulary for spec in CRITERIA.values() if spec.vocabulary is not None}
POOLS = {name: sorted(taxonomy.ids(vocabulary)) for name, vocabulary in VOCABULARY_OF.items()}
OTHER_LANGUAGES = [language for language in POOLS["languages"] if language != "en"]


def _ids(rng: random.Random) -> list[str]:
    ids = [f"R{n:04d}" for n in range(220)]
    ids += [f"COLLIDE-{n:02d}" for n in range(50)]  # one id key for all fifty: ties need the full id
    ids += [f"Q{n}" for n in range(30)]  # shorter than the key: zero-padded
    rng.shuffle(ids)
    return ids


def _pick(rng: random.Random, pool: list[str], most: int) -> list[str]:
    return rng.sample(pool, rng.randint(0, most))


def _doc(rng: random.Random, member_id: str, headline: str = "Mentor", bio: str = "") -> dict:
    profile = MentorProfile(
        headline=headline, bio=bio, expertise=_pick(rng, POOLS["expertise"], 3), sectors=_pick(rng, POOLS["sectors"], 2),
        career_stage=rng.choice([None, *POOLS["career_stage"]]), years_experience=rng.choice([None, 0, 3, 10, 25]),
        qualifications=_pick(rng, POOLS["qualifications"], 2),
        languages=(["en"] if rng.random() < 0.9 else []) + _pick(rng, OTHER_LANGUAGES, 2),
        interaction_modes=_pick(rng, POOLS["interaction_modes"], 3),
        location=Location("GB", rng.choice([None, *POOLS["region"]])))
    return index_document(member_id, member_id, profile, rng.randint(0, 4))


def _spec(rng: random.Random, member_ids: list[str]) -> dict:
    def values(name: str):
        if name == "years_experience":
            return rng.choice([0, 3, 10, 11, 30])
        if name == "languages" and rng.random() < 0.5:
            return ["en"]  # met by nine mentors in ten, as in the benchmark
        return rng.sample(POOLS[name], rng.randint(1, 3))

    names = sorted(VOCABULARY_OF) + ["years_experience"]
    criteria = {name: values(name) for name in rng.sample(names, rng.randint(0, len(names)))}
    weights = {name: rng.choice([1, 1, 2, 3, 0.5, round(rng.uniform(0.05, 20), 3)])
               for name in criteria if rng.random() < 0.6}
    filters = {name: values(name) for name in rng.sample(names, rng.choice([0, 0, 0, 1, 2]))}
    exclude = rng.sample(member_ids, rng.choice([0, 0, 1, 3]))
    return {"criteria": criteria, "weights": weights, "filters": filters, "exclude_ids": exclude,
            "size": rng.choice([4, 7, 20, 40])}


def _walk(index: EmbeddedSearchIndex, spec: dict, monkeypatch: pytest.MonkeyPatch, columns: bool) -> list:
    """Every page of the search, following its cursors, through one path."""
    monkeypatch.setattr(search_embedded, "USE_COLUMNS", columns)
    pages, cursor = [], None
    while True:
        page = index.search(build_search(**spec, cursor=cursor))
        pages.append(([(hit.member_id, hit.score) for hit in page.hits], page.total, page.next_cursor))
        cursor = page.next_cursor
        if cursor is None:
            return pages
        assert len(pages) <= 400, "the cursors do not lead to the end"


def _same_walk_both_ways(index: EmbeddedSearchIndex, spec: dict, monkeypatch: pytest.MonkeyPatch,
                         columns_calls: list[int]) -> int:
    """Walk the search through the engine, then the columns (counted by `columns_calls`): the
    same pages.  Returns how many pages."""
    before = columns_calls[0]
    expected = _walk(index, spec, monkeypatch, columns=False)
    assert columns_calls[0] == before
    got = _walk(index, spec, monkeypatch, columns=True)
    assert columns_calls[0] == before + len(got)
    assert got == expected, spec
    return len(got)


@pytest.fixture
def answered(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many searches the columns answered."""
    calls = [0]
    search = Columns.search

    def counted(self, query):  # type: ignore[no-untyped-def]
        calls[0] += 1
        return search(self, query)

    monkeypatch.setattr(Columns, "search", counted)
    return calls


def _padded_layout() -> BitLayout:
    # Languages pushed past one 64-bit word: "en" stays in the first, the others move to the second.
    current = BitLayout.current().values
    return BitLayout({**current, "languages": [f"pad{i}" for i in range(60)] + current["languages"]})


@pytest.mark.parametrize("layout", [BitLayout.current(), _padded_layout()], ids=["taxonomy", "two-words"])
def test_the_columns_walk_the_same_pages_as_the_engine(tmp_path, monkeypatch, answered, layout):
    rng = random.Random(20261128)
    member_ids = _ids(rng)
    docs = {member_id: _doc(rng, member_id) for member_id in member_ids}
    index = EmbeddedSearchIndex(tmp_path, "columns")
    index.layout = layout
    build = index.begin_build()
    build.add(docs[m] for m in member_ids[:260])
    build.swap(datetime.now(timezone.utc))
    index.upsert(docs[m] for m in member_ids[260:])  # a second segment
    index.delete(member_ids[:12])  # deleted documents left in the segments

    walked = 0
    for n in range(60):
        if n % 10 == 9:
            # A change between searches: the next one must use a new generation's columns.
            changed = rng.sample(member_ids, 5)
            index.upsert(_doc(rng, member_id) for member_id in changed[:4])
            index.delete(changed[4:])
        spec = _spec(rng, member_ids)
        query = build_search(**spec)
        assert index._current().layout.answers(query), spec
        walked += _same_walk_both_ways(index, spec, monkeypatch, answered)
    assert walked > 400  # many pages, so many cursors were followed
    index.close()


def test_an_index_from_before_the_columns_answers_through_the_engine_until_reindexed(tmp_path, monkeypatch,
                                                                                      answered):
    rng = random.Random(7)
    docs = [_doc(rng, member_id) for member_id in _ids(rng)[:80]]
    # A version as it was written before the columns: no layout file, no bitmask fields.
    old = BitLayout({})
    folder = tmp_path / "mentors-v1"
    folder.mkdir()
    written = tantivy.Index(build_schema(old), path=str(folder), reuse=True)
    writer = written.writer(heap_size=15_000_000, num_threads=1)
    for doc in docs[:70]:
        writer.add_document(to_document(doc, old))
    writer.commit()
    writer.wait_merging_threads()
    (tmp_path / "mentors.json").write_text(json.dumps({"index": folder.name, "build_started": "2026-01-01T00:00:00"}))

    index = EmbeddedSearchIndex(tmp_path, "mentors")
    specs = [{"criteria": {"languages": ["en"], "expertise": POOLS["expertise"][:2], "years_experience": 3},
              "size": 7},
             {"criteria": {"years_experience": 10}, "size": 7}]
    index.upsert(docs[70:])  # the old version still takes writes
    before = [_walk(index, spec, monkeypatch, columns=True) for spec in specs]
    assert answered[0] == 0
    for pages in before:
        assert sum(len(hits) for hits, _total, _cursor in pages) == pages[0][1] > 0

    # `connect reindex` writes a new version, with the layout and the fields.
    build = index.begin_build()
    build.add(docs)
    build.swap(datetime.now(timezone.utc))
    assert [_walk(index, spec, monkeypatch, columns=True) for spec in specs] == before
    assert answered[0] == sum(len(pages) for pages in before)
    index.close()


def test_a_value_the_saved_layout_does_not_know_goes_to_the_engine(tmp_path, monkeypatch, answered):
    rng = random.Random(11)
    docs = [_doc(rng, member_id) for member_id in _ids(rng)[:120]]
    current = BitLayout.current().values
    # As if the index had been built before "cy" joined the taxonomy.
    builder = EmbeddedSearchIndex(tmp_path, "mentors")
    builder.layout = BitLayout({**current, "languages": [v for v in current["languages"] if v != "cy"]})
    build = builder.begin_build()
    build.add(docs)
    build.swap(datetime.now(timezone.utc))
    builder.close()

    # Another process, whose taxonomy knows "cy": the version's saved layout decides.
    index = EmbeddedSearchIndex(tmp_path, "mentors")
    welsh = _walk(index, {"criteria": {"languages": ["cy"]}, "size": 10}, monkeypatch, columns=True)
    assert answered[0] == 0
    assert {member_id for hits, _total, _cursor in welsh for member_id, _score in hits} == {
        doc["member_id"] for doc in docs if "cy" in doc["languages"]} != set()
    english = {"criteria": {"languages": ["en"], "sectors": POOLS["sectors"][:1]}, "size": 10}
    assert _walk(index, english, monkeypatch, columns=True) == _walk(index, english, monkeypatch, columns=False)
    assert answered[0] > 0
    index.close()


WORDS = ["claims", "fraud", "leadership", "board", "confidence", "broking", "audit", "team", "career", "risk"]


def _worded_doc(rng: random.Random, np_rng, member_id: str, topics) -> dict:
    doc = _doc(rng, member_id, headline=" ".join(rng.sample(WORDS, rng.randint(0, 2))) or "Mentor",
               bio=" ".join(rng.sample(WORDS, rng.randint(0, 4))))
    # Vectors near one of a few topics, so the similarities to a need spread over the bonus's range.
    doc["vector"] = meaning.quantise(topics[rng.randrange(len(topics))] + np_rng.normal(0, 0.8, topics.shape[1]))[0]
    return doc


def test_words_with_a_need_walk_the_same_pages_through_the_columns_as_through_the_engine(tmp_path, monkeypatch):
    """Searches with words and a need: the columns rank, with the words' part made from each
    word's rows; the engine path ranks by criteria and words and adds the semantic bonus.
    Same pages, scores, totals."""
    import numpy as np

    from services.matching.adapters.search_vectors import VectorSpace

    rng, np_rng = random.Random(20261129), np.random.default_rng(29)
    topics = np_rng.normal(0, 1, (4, 32))
    member_ids = _ids(rng)
    docs = {member_id: _worded_doc(rng, np_rng, member_id, topics) for member_id in member_ids}
    index = EmbeddedSearchIndex(tmp_path, "words", space=VectorSpace("test-model", 32))
    build = index.begin_build()
    build.add(docs[m] for m in member_ids[:260])
    build.swap(datetime.now(timezone.utc))
    index.upsert(docs[m] for m in member_ids[260:])  # a second segment
    index.delete(member_ids[:12])

    calls = [0]
    words_with_meaning = EmbeddedSearchIndex._words_with_meaning

    def counted(self, *args):  # type: ignore[no-untyped-def]
        calls[0] += 1
        return words_with_meaning(self, *args)

    monkeypatch.setattr(EmbeddedSearchIndex, "_words_with_meaning", counted)
    monkeypatch.setattr(search_columns, "TERM_ROWS_KEPT", 150)  # words' rows dropped and asked for again
    walked = 0
    for n in range(16):
        spec = _spec(rng, member_ids)
        spec["size"] = rng.choice([7, 20, 40])  # fewer pages than the criteria walk: each scans the vectors
        spec["criteria"] = dict(list(spec["criteria"].items())[:rng.choice([0, 0, 1, 3])])
        spec["weights"] = {k: v for k, v in spec["weights"].items() if k in spec["criteria"]}
        spec["text"] = " ".join(rng.sample(WORDS, rng.randint(1, 3)))
        need = topics[rng.randrange(len(topics))] + np_rng.normal(0, 0.8, 32)
        spec["meaning"] = Meaning(vector=meaning.quantise(need)[0], source="text", model_id="test-model")
        walked += _same_walk_both_ways(index, spec, monkeypatch, calls)
        if n == 8:  # a change between searches: the next ones use a new generation's rows of words
            changed = rng.sample(member_ids, 6)
            index.upsert(_worded_doc(rng, np_rng, member_id, topics) for member_id in changed[:4])
            index.delete(changed[4:])
    assert walked > 30
    index.close()
