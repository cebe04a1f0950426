"""The stopping rule of a search with a need on the clusters (`search_threshold.settle`), against
a fake engine in memory: the page it settles is the one a full scan gives (who is listed, order,
scores, cursor), however the two lists and the engines' float cosines fall, and it reads stored
vectors only for mentors that could reach the page."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from services.matching.adapters.search_threshold import EPSILON, settle
from services.matching.domain import meaning
from services.matching.domain.search import Meaning, SearchQuery, build_search

DIMENSIONS = 24


class FakeEngine:
    """Two orders and lookups by id over mentors in memory, as `_EngineLists` asks a cluster.

    `base`: the engine's score of a mentor that meets a criterion or shares a word (absent: it
    matches nothing, and is listed only when near; then its base is `nudge`).  The engine's
    float cosine is the exact one moved by up to `noise` (as float32 rounding moves it)."""

    def __init__(self, vectors: dict[str, np.ndarray | None], base: dict[str, float], nudge: dict[str, float],
                 need: np.ndarray, noise: float, seed: int = 0) -> None:
        self.base, self.nudge = base, nudge
        with_vector = {m: v for m, v in vectors.items() if v is not None}
        ids = sorted(with_vector)
        sims = meaning.cosines(np.stack([with_vector[m] for m in ids]), need) if ids else np.zeros(0)
        self.cosine = dict(zip(ids, (float(s) for s in sims)))
        moved = random.Random(seed)
        self.approx = {m: c + moved.uniform(-noise, noise) for m, c in self.cosine.items()}
        # The engine orders by its float cosine; ties in any fixed order.
        self.nearest_order = sorted(self.approx, key=lambda m: -self.approx[m])
        self.every = sorted(vectors)
        self.nearest_read = 0
        self.ranked_read = 0
        self.exact_ids: list[str] = []
        self.requests = 0
        self._orders: dict[tuple[str, ...], tuple[dict[str, float], list[str]]] = {}

    def fresh(self) -> "FakeEngine":
        """The same mentors, for another search (nothing read yet)."""
        other = object.__new__(FakeEngine)
        other.__dict__.update(self.__dict__, nearest_read=0, ranked_read=0, exact_ids=[], requests=0)
        return other

    cap: int | None = None  # how deep the nearest list can be read

    def nearest(self, count: int) -> tuple[list[tuple[str, float]], bool]:
        self.requests += 1
        if self.cap is not None:
            count = min(count, self.cap - self.nearest_read)
            if count <= 0:
                return [], True
        rows = self.nearest_order[self.nearest_read:self.nearest_read + count]
        self.nearest_read += len(rows)
        return [(m, self.approx[m]) for m in rows], len(rows) == count

    def _listed(self, near_ids: list[str]) -> dict[str, float]:
        return self._ordered(near_ids)[0]

    def _ordered(self, near_ids: list[str]) -> tuple[dict[str, float], list[str]]:
        key = tuple(sorted(near_ids))
        if key not in self._orders:
            near = set(near_ids)
            listed = {m: self.base.get(m, self.nudge[m]) for m in self.every if m in self.base or m in near}
            self._orders[key] = listed, sorted(listed, key=lambda m: (-listed[m], m))
        return self._orders[key]

    def ranked(self, near_ids: list[str], count: int) -> tuple[list[tuple[str, float]], bool]:
        self.requests += 1
        listed, order = self._ordered(near_ids)
        rows = order[self.ranked_read:self.ranked_read + count]
        self.ranked_read += len(rows)
        return [(m, listed[m]) for m in rows], len(rows) == count

    def bases(self, near_ids: list[str], ids: list[str]) -> dict[str, float]:
        self.requests += 1
        listed = self._listed(near_ids)
        return {m: listed[m] for m in ids if m in listed}

    def estimates(self, ids: list[str]) -> dict[str, float]:
        self.requests += 1
        return {m: self.approx[m] for m in ids if m in self.approx}

    def exact(self, ids: list[str]) -> dict[str, float]:
        self.requests += 1
        self.exact_ids += ids
        return {m: self.cosine[m] for m in ids if m in self.cosine}


def reference(engine: FakeEngine, query: SearchQuery) -> list[tuple[float, str, float]]:
    """Every mentor scored, as the embedded engine lists and orders them."""
    bonus = {m: float(query.semantic_bonus(np.array([c]))[0]) for m, c in engine.cosine.items()}
    near = sorted((m for m in engine.cosine if bonus[m] > 0),
                  key=lambda m: (-engine.cosine[m], m))[:meaning.SEMANTIC_CANDIDATES]
    listed = engine._listed(near)
    ranked = [(b + bonus.get(m, 0.0), m, engine.cosine.get(m, 0.0)) for m, b in listed.items()]
    return sorted(ranked, key=lambda hit: (-hit[0], hit[1]))


def world(seed: int, mentors: int, *, words: bool, criteria: bool, pool: int | None = None,
          without_vector: float = 0.05, noise: float = EPSILON * 0.99) -> tuple[FakeEngine, SearchQuery]:
    """Mentors whose bases and vectors tie often (a small pool of vectors, a few base levels)."""
    rng = np.random.default_rng(seed)
    need = meaning.quantise(rng.normal(size=DIMENSIONS))[0]
    # Vectors near the need's direction in part, so that cosines spread across the bonus range.
    pool_rows = meaning.quantise(rng.normal(size=(pool or mentors, DIMENSIONS))
                                 + rng.uniform(0, 1.5, size=(pool or mentors, 1)) * need / 127.0)
    ids = [f"M{i:06d}" for i in range(mentors)]
    vectors: dict[str, np.ndarray | None] = {}
    for i, m in enumerate(ids):
        vectors[m] = None if rng.random() < without_vector else pool_rows[rng.integers(len(pool_rows))] \
            if pool else pool_rows[i]
    spec: dict[str, Any] = {"text": "claims fraud leadership" if words else None,
                            "criteria": {"expertise": ["claims"], "languages": ["en"]} if criteria else None}
    query = build_search(text=spec["text"], criteria=spec["criteria"], size=20,
                         meaning=Meaning(vector=need, source="text" if words else "mentee_goals", model_id="m"))
    nudge = {m: query.nudge(int(rng.integers(0, 5))) for m in ids}
    levels = [0.0]
    if criteria:
        levels += [c.weight for c in query.criteria] + [sum(c.weight for c in query.criteria)]
    base: dict[str, float] = {}
    for m in ids:
        part = 0.0
        if criteria:
            part += levels[int(rng.integers(len(levels)))]
        if words:
            part += sum(c[0].boost for c in query.text_clauses() if rng.random() < 0.3)
        if part > 0:
            base[m] = part + nudge[m]
    return FakeEngine(vectors, base, nudge, need, noise, seed), query


def walk(engine: FakeEngine, query: SearchQuery, size: int) -> list[tuple[float, str, float]]:
    """Every page through the cursor, as the adapter pages: the last of a page is the cursor."""
    seen: list[tuple[float, str, float]] = []
    after = None
    while True:
        top = settle(engine.fresh(), query.semantic_bonus, size + 1, after, first_nearest=64, first_ranked=64).top
        seen += top[:size]
        if len(top) <= size:
            return seen
        after = (top[size - 1][0], top[size - 1][1])


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("words, criteria", [(True, False), (False, False), (True, True), (False, True)],
                         ids=["text-only", "goals-only", "criteria+text", "criteria+goals"])
def test_every_page_is_the_full_scan_page(seed, words, criteria):
    engine, query = world(seed, 1200, words=words, criteria=criteria, pool=300 if seed % 2 else None)
    expected = reference(engine, query)
    first = settle(engine.fresh(), query.semantic_bonus, 21, first_nearest=64, first_ranked=64)
    assert first.top == expected[:21]
    assert walk(engine, query, 97) == expected


@pytest.mark.parametrize("depth", [150, 400])
def test_a_nearest_list_that_reads_no_deeper_still_gives_the_full_scan_page(depth):
    """Elasticsearch's knn stops at 10,000 (here: `depth`, past the nearest set): beyond it the
    frontier stays the bound and the ranked list is read on."""
    engine, query = world(3, 1200, words=True, criteria=False, pool=300)
    expected = reference(engine, query)
    engine.cap = depth
    assert walk(engine, query, 97) == expected


def test_the_nearest_set_is_told_apart_by_exact_cosines_when_the_engine_ties_them():
    """A hundred and more mentors with one vector: their float cosines are equal, the exact ones
    too, so the member id decides who is among the SEMANTIC_CANDIDATES, as in the embedded engine."""
    engine, query = world(7, 600, words=False, criteria=False, pool=3, without_vector=0.0)
    ranked = settle(engine, query.semantic_bonus, 21, first_nearest=32, first_ranked=32)
    assert ranked.top == reference(engine, query)[:21]
    assert ranked.near_ids == sorted(ranked.near_ids, key=lambda m: (-engine.cosine[m], m))


def test_an_unseen_mentor_at_the_threshold_is_read_before_the_page_is_settled():
    """Equal final scores: the mentor with the smaller id sits deep in both lists and must still
    come first."""
    need = np.zeros(DIMENSIONS, dtype=np.int8)
    need[0] = 127
    vectors: dict[str, np.ndarray | None] = {}
    base: dict[str, float] = {}
    query = build_search(text="claims", size=1, meaning=Meaning(vector=need, source="text", model_id="m"))
    top_words = query.text_clauses()[0][0].boost
    # Z: all words, a middling cosine.  A: the same final score, from fewer words and a nearer vector.
    far = np.zeros(DIMENSIONS, dtype=np.int8)
    far[0], far[1] = 127, 127
    vectors["Z"] = far
    base["Z"] = top_words
    z_bonus = float(query.semantic_bonus(meaning.cosines(far, need))[0])
    for i in range(300):  # filler between them in both lists
        filler = np.zeros(DIMENSIONS, dtype=np.int8)
        filler[0], filler[2 + i % 20] = 60, 127
        vectors[f"F{i:03d}"] = filler
        base[f"F{i:03d}"] = top_words / 2
    vectors["A"] = need.copy()
    a_bonus = float(query.semantic_bonus(meaning.cosines(need, need))[0])
    base["A"] = top_words + z_bonus - a_bonus
    engine = FakeEngine(vectors, base, {m: 0.0 for m in vectors}, need, 0.0)
    ranked = settle(engine, query.semantic_bonus, 2, first_nearest=8, first_ranked=8)
    assert ranked.top == reference(engine, query)[:2]
    assert ranked.top[0][1] == "A" and ranked.top[0][0] == ranked.top[1][0]


def test_vectors_are_read_only_for_mentors_that_could_reach_the_page():
    """Text only at 20,000 mentors (the search the widening fetch read nearly whole): the exact
    cosine is asked for a few hundred, not thousands."""
    engine, query = world(11, 20_000, words=True, criteria=False, pool=2_000)
    ranked = settle(engine, query.semantic_bonus, 21, first_nearest=256, first_ranked=256)
    assert ranked.top == reference(engine, query)[:21]
    listed = len(reference(engine, query))
    assert listed > 10_000
    assert len(set(engine.exact_ids)) < 600, (len(set(engine.exact_ids)), ranked.reads)
    assert engine.requests < 40, ranked.reads
