"""Any mix of criteria, weights and filters: the embedded engine returns exactly the plain-Python
evaluation of the query model (order, scores, total), page by page."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest
from faker import Faker
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.matching.adapters.search_embedded import EmbeddedSearchIndex
from services.matching.demo import fake_mentor_profile
from schemas import taxonomy
from services.matching.domain.profiles import index_document
from services.matching.domain.search import build_search


def _docs() -> list[dict]:
    rng = random.Random(99)
    faker = Faker("en_GB")
    faker.seed_instance(99)
    return [index_document(f"R{n:04d}", faker.name(), fake_mentor_profile(rng, faker), rng.randint(0, 4))
            for n in range(300)]


DOCS = _docs()


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    built = EmbeddedSearchIndex(tmp_path_factory.mktemp("search"), "prop")
    build = built.begin_build()
    build.add(DOCS)
    build.swap(datetime.now(timezone.utc))
    yield built
    built.close()


def _ids(vocabulary: str) -> list[str]:
    return sorted(taxonomy.ids(vocabulary))


CRITERIA = {
    "expertise": st.lists(st.sampled_from(_ids("expertise")), min_size=1, max_size=3, unique=True),
    "sectors": st.lists(st.sampled_from(_ids("sectors")), min_size=1, max_size=2, unique=True),
    "career_stage": st.sampled_from(_ids("career_stages")),
    "region": st.sampled_from(_ids("regions")),
    "languages": st.lists(st.sampled_from(["en", "fr", "de", "cy"]), min_size=1, max_size=2, unique=True),
    "interaction_modes": st.lists(st.sampled_from(_ids("interaction_modes")), min_size=1, max_size=2, unique=True),
    "qualifications": st.lists(st.sampled_from(_ids("qualifications")), min_size=1, max_size=2, unique=True),
    "years_experience": st.integers(0, 40),
    "interests": st.lists(st.sampled_from(["cycling", "chess", "golf", "music"]), min_size=1, max_size=2,
                          unique=True),
}

searches = st.fixed_dictionaries({
    "criteria": st.dictionaries(st.sampled_from(sorted(CRITERIA)), st.just(None), max_size=6),
    "weights": st.dictionaries(st.sampled_from(sorted(CRITERIA)), st.floats(0.05, 20), max_size=4),
    "filters": st.dictionaries(st.sampled_from(["interaction_modes", "languages"]), st.just(None), max_size=1),
    "size": st.integers(1, 40),
    "exclude": st.lists(st.sampled_from([d["member_id"] for d in DOCS[:20]]), max_size=3),
}).flatmap(lambda spec: st.fixed_dictionaries({
    **{k: st.just(v) for k, v in spec.items() if k not in ("criteria", "filters")},
    "criteria": st.fixed_dictionaries({name: CRITERIA[name] for name in spec["criteria"]}),
    "filters": st.fixed_dictionaries({name: CRITERIA[name] for name in spec["filters"]}),
}))


def _reference(query) -> list[tuple[str, float]]:
    ranked = []
    for doc in DOCS:
        if doc["member_id"] in query.exclude_ids or any(f.met_by(doc) is None for f in query.filters):
            continue
        matched = query.matched(doc)
        if query.criteria and not matched:
            continue
        ranked.append((doc["member_id"], sum(m["weight"] for m in matched) + query.nudge(doc["load_level"])))
    return sorted(ranked, key=lambda r: (-r[1], r[0]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=searches)
def test_embedded_engine_equals_the_query_model(index, spec):
    def query(cursor=None):
        return build_search(criteria=spec["criteria"], weights=spec["weights"], filters=spec["filters"],
                            exclude_ids=spec["exclude"], size=spec["size"], cursor=cursor)

    expected = _reference(query())
    got: list[tuple[str, float]] = []
    cursor = None
    while True:
        page = index.search(query(cursor))
        assert page.total == len(expected)
        got += [(hit.member_id, hit.score) for hit in page.hits]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert got == expected
