"""Search quality on the project's judged set: nDCG@10 and recall@20 of lexical, semantic and hybrid text search.

    python -m bench.matching_quality [--engines embedded,elasticsearch,opensearch]

The judged set (bench/data, `python -m bench._judged_set`): 190 mentors written from 26 latent
topics, 78 needs said in the mentees' own words, graded relevance (2: the need's topic, 1: a
related or secondary topic).  Each engine gets the mentors through the real path (members and
profiles imported, `reindex`: passages embedded by the configured model, vectors indexed), then
every need is searched as text only, three ways:

* lexical: the words only (Connect before meaning: share of query words found);
* semantic: the need's vector only (its text's meaning, no words);
* hybrid: both, as `POST /v1/mentors/search` does with a text (domain/search.py).

Results go to bench/results/matching_quality.json with the machine.  Engines are a table
(`ENGINES`): `embedded` (tantivy in a scratch folder), `elasticsearch` and `opensearch` (a node of
each launched for the run as bench.matching does, one at a time, or the cluster given by
`--elasticsearch-url` / `--opensearch-url`; the index is made under a scratch alias and deleted).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator

from bench._common import machine
from bench._judged_set import load

RESULTS = Path(__file__).resolve().parent / "results" / "matching_quality.json"
MODES = ("lexical", "semantic", "hybrid")


@contextmanager
def _embedded(var_dir: Path, _url: str | None) -> Iterator[dict[str, Any]]:
    yield {"var_dir": var_dir}


def _cluster(kind: str) -> Callable[[Path, str | None], ContextManager[dict[str, Any]]]:
    @contextmanager
    def settings(var_dir: Path, url: str | None) -> Iterator[dict[str, Any]]:
        from bench.matching import start_cluster

        address, stop = start_cluster(kind, url)
        try:
            yield {"var_dir": var_dir, "search_url": f"{kind}+{address}",
                   "search_index_alias": f"quality-{var_dir.name.lower()}"}
        finally:
            stop()

    return settings


# engine name -> settings overrides for a container on a scratch folder (the cluster's URL,
# when one is given; else a node is launched for the run).
ENGINES: dict[str, Callable[[Path, str | None], ContextManager[dict[str, Any]]]] = {
    "embedded": _embedded, "elasticsearch": _cluster("elasticsearch"), "opensearch": _cluster("opensearch")}


def ndcg_at(ranked: list[str], grades: dict[str, int], k: int = 10) -> float:
    dcg = sum((2 ** grades.get(m, 0) - 1) / math.log2(i + 2) for i, m in enumerate(ranked[:k]))
    ideal = sorted(grades.values(), reverse=True)[:k]
    idcg = sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], grades: dict[str, int], k: int = 20) -> float:
    relevant = {m for m, g in grades.items() if g > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def loaded_service(overrides: dict[str, Any]) -> Iterator[Any]:
    from connect.bootstrap import build_container
    from connect.settings import Settings
    from services.matching.domain.profiles import Location, MentorProfile

    mentors, _needs, _grades = load()
    container = build_container(Settings(**overrides), services=("matching",))
    try:
        module = container.services["matching"]
        module.database.upgrade(module.migrations)
        service = module.facade
        service.import_members(
            (m["member_id"], f"Mentor {m['member_id']}", f"{m['member_id'].lower()}@example.org",
             MentorProfile(headline=m["headline"], bio=m["bio"], expertise=m["expertise"], sectors=m["sectors"],
                           languages=["en"], location=Location("GB", "london")), None)
            for m in mentors)
        service.reindex()
        yield service
        client = getattr(service.index, "client", None)
        if client is not None:  # a cluster keeps no scratch index behind (bench only)
            for name in client.alias_targets(service.index.alias):
                client.delete_index(name)
    finally:
        container.close()


def evaluate(service: Any) -> dict[str, Any]:
    from services.matching.domain.search import build_search

    _mentors, needs, grades = load()
    scores: dict[str, dict[str, list[float]]] = {mode: {"ndcg@10": [], "recall@20": []} for mode in MODES}
    for need in needs:
        vector = service.need(need["text"], None)
        queries = {"lexical": build_search(text=need["text"], size=20),
                   "semantic": build_search(size=20, meaning=vector),
                   "hybrid": build_search(text=need["text"], size=20, meaning=vector)}
        for mode, query in queries.items():
            ranked = [hit.member_id for hit in service.index.search(query).hits]
            scores[mode]["ndcg@10"].append(ndcg_at(ranked, grades.get(need["need_id"], {})))
            scores[mode]["recall@20"].append(recall_at(ranked, grades.get(need["need_id"], {})))
    return {mode: {name: round(sum(values) / len(values), 3) for name, values in by.items()}
            for mode, by in scores.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engines", default=",".join(ENGINES), help="Comma-separated: " + ", ".join(ENGINES))
    parser.add_argument("--elasticsearch-url", help="Use this cluster instead of launching a node.")
    parser.add_argument("--opensearch-url", help="Use this cluster instead of launching a node.")
    parser.add_argument("--no-save", action="store_true", help="Print only; keep bench/results as it is.")
    args = parser.parse_args()
    _mentors, needs, _grades = load()
    results: dict[str, Any] = {"benchmark": "matching_quality", "measured_at": datetime.now(timezone.utc).isoformat(),
                               "machine": machine(), "set": {"mentors": len(_mentors), "needs": len(needs)},
                               "engines": {}}
    for name in args.engines.split(","):
        with tempfile.TemporaryDirectory(prefix=f"quality-{name}-") as scratch, \
                ENGINES[name](Path(scratch), getattr(args, f"{name}_url", None)) as overrides:
            began = time.perf_counter()
            for service in loaded_service(overrides):
                results["model"] = service.embedder.model_id if service.embedder else None
                results["engines"][name] = evaluate(service)
            results["engines"][name]["seconds"] = round(time.perf_counter() - began, 1)
    print(f"judged set: {len(_mentors)} mentors, {len(needs)} needs; model {results.get('model')}")
    print(f"{'engine':<15}{'mode':<10}{'nDCG@10':>10}{'recall@20':>11}")
    for name, by_mode in results["engines"].items():
        for mode in MODES:
            print(f"{name:<15}{mode:<10}{by_mode[mode]['ndcg@10']:>10.3f}{by_mode[mode]['recall@20']:>11.3f}")
    if not args.no_save:
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
