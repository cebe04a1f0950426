"""The fixed data set and criteria-only searches of the ranking regression test.

`python tests/unit/matching/criteria_order_fixture.py OUT.json`, run against the code
before meaning existed, wrote `data/criteria_order_before_meaning.json`: the order and
scores every criteria-only search must still give.  Only the standard library, Faker and
the matching domain are used, so the same file runs against either version.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SEED = 20261129
MENTORS = 400


def fixture_docs() -> list[dict[str, Any]]:
    from faker import Faker

    from services.matching.demo import fake_mentor_profile
    from services.matching.domain.profiles import index_document

    rng = random.Random(SEED)
    faker = Faker("en_GB")
    faker.seed_instance(SEED)
    return [index_document(f"R{n:04d}", faker.name(), fake_mentor_profile(rng, faker), rng.randint(0, 4))
            for n in range(MENTORS)]


def specs() -> list[dict[str, Any]]:
    from schemas import taxonomy

    rng = random.Random(SEED + 1)
    pools = {"expertise": sorted(taxonomy.ids("expertise")), "sectors": sorted(taxonomy.ids("sectors")),
             "career_stage": sorted(taxonomy.ids("career_stages")), "region": sorted(taxonomy.ids("regions")),
             "languages": ["en", "fr", "de", "cy"], "interaction_modes": sorted(taxonomy.ids("interaction_modes")),
             "qualifications": sorted(taxonomy.ids("qualifications")), "interests": ["cycling", "chess", "golf"],
             "country": ["GB", "IE", "FR"]}
    out: list[dict[str, Any]] = [{}, {"criteria": {"languages": ["en"]}}]
    for _ in range(40):
        names = rng.sample(sorted(pools) + ["years_experience"], rng.randint(1, 7))
        criteria = {n: (rng.randint(0, 30) if n == "years_experience" else rng.sample(pools[n], rng.randint(1, 2)))
                    for n in names}
        spec: dict[str, Any] = {"criteria": criteria,
                                "weights": {n: round(rng.uniform(0.1, 9), 3) for n in names if rng.random() < 0.4}}
        if rng.random() < 0.3:
            spec["filters"] = {"interaction_modes": ["video"]}
        out.append(spec)
    return out


def orders(index: Any) -> list[dict[str, Any]]:
    """Each spec's first 60 results (member id, score) and total, paged 20 at a time."""
    from services.matching.domain.search import build_search

    out = []
    for spec in specs():
        ranked: list[list[Any]] = []
        cursor = None
        total = None
        for _page in range(3):
            page = index.search(build_search(criteria=spec.get("criteria"), weights=spec.get("weights"),
                                             filters=spec.get("filters"), size=20, cursor=cursor))
            total = page.total
            ranked += [[hit.member_id, hit.score] for hit in page.hits]
            cursor = page.next_cursor
            if cursor is None:
                break
        out.append({"spec": spec, "total": total, "ranked": ranked})
    return out


def main(out: str) -> None:
    import tempfile

    from services.matching.adapters.search_embedded import EmbeddedSearchIndex

    with tempfile.TemporaryDirectory() as folder:
        index = EmbeddedSearchIndex(Path(folder), "regression")
        build = index.begin_build()
        build.add(fixture_docs())
        build.swap(datetime.now(timezone.utc))
        Path(out).write_text(json.dumps(orders(index), indent=0) + "\n")
        index.close()


if __name__ == "__main__":
    main(sys.argv[1])
