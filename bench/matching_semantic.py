"""Meaning at scale: the embedding model, the vector store and hybrid search on 100k mentors (embedded engine;
Elasticsearch and OpenSearch with `--index-mentors K --clusters ...`).

    python -m bench.matching_semantic [--mentors 100000] [--index-mentors 0] [--changed 1000] [--rounds 25]

On a scratch folder, through the matching service as `connect serve` runs it:

* seeds N synthetic mentors (services/matching/demo.py) and times `reindex`: every passage
  embedded once (the demo bios repeat many sentences: the count of distinct passages is
  reported beside the time), vectors written beside tantivy;
* query embedding p50/p95 of distinct needs (the model alone, no cache), wall clock and the
  thread's CPU time (on a busy machine the wall clock is mostly waiting for a core);
* search p50/p95 through the index with a need (vector given): criteria + text, text only,
  and criteria + a need without words (a mentee's goals); the same with the query
  embedding included (`MatchingService.search` less HTTP: embedding, index, explanations);
* memory of the vector store (the int8 rows and their norms, in every searching process);
* incremental: M mentors change their bio (one new sentence each); the indexer's
  `refresh_index` of them (embedding the new passages, appending their vectors) is timed,
  then a full `reindex` after those changes.

`--index-mentors K` (K > 0) also measures search speed and memory on an index of K mentors
built directly (no database, as bench.matching does), their profile vectors drawn from a
pool made by the real model from the passages of 2,000 synthetic profiles: search cost at a
scale whose bulk embedding would not fit a busy machine's afternoon (the vectors repeat, so
similarity ties are more common than in life; the scan and the ranking do the same work).

With `--index-mentors K`, `--clusters elasticsearch,opensearch` indexes the same K documents
(vectors included) into each cluster (one node at a time, launched as bench.matching does,
or `--elasticsearch-url`/`--opensearch-url`) and times the same searches there, with the
index's size on disk and a check that the top 10 equal the embedded engine's.

Results go to bench/results/matching_semantic.json with the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path
from typing import Any, Callable

from bench._common import machine, percentile
from bench._judged_set import load as load_judged

RESULTS = Path(__file__).resolve().parent / "results" / "matching_semantic.json"
EXPERTISE = ["underwriting", "claims", "broking", "risk_management", "compliance", "financial_planning",
             "career_planning", "work_life_balance", "leadership", "personal_confidence"]
REGIONS = ["london", "south_east", "north_west", "scotland", "wales", "west_midlands"]


def _stats(samples: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(samples, 50), 2), "p95_ms": round(percentile(samples, 95), 2),
            "p99_ms": round(percentile(samples, 99), 2), "samples": len(samples)}


def _timed(calls: list[Callable[[], Any]], rounds: int, cpu: bool = False) -> dict[str, Any]:
    """Wall-clock percentiles; with `cpu`, also of the calling thread's CPU time, which a busy
    machine inflates far less than the wall clock (the call waits for a core, not for work)."""
    for call in calls:  # warm
        call()
    samples, cpu_samples = [], []
    for _ in range(rounds):
        for call in calls:
            began, began_cpu = time.perf_counter(), time.thread_time()
            call()
            samples.append((time.perf_counter() - began) * 1000)
            cpu_samples.append((time.thread_time() - began_cpu) * 1000)
    stats: dict[str, Any] = _stats(samples)
    if cpu:
        stats["cpu"] = _stats(cpu_samples)
    return stats


def seed(service: Any, mentors: int) -> float:
    from services.matching.demo import fake_members

    began = time.perf_counter()
    members = fake_members(mentors, 0, seed=11, prefix="S")
    while batch := list(islice(members, 1000)):
        service.import_members((m.member_id, m.name, m.email, m.mentor, m.mentee) for m in batch)
    return round(time.perf_counter() - began, 1)


def reindex(service: Any) -> dict[str, Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    embedded = service.passage_vectors.embedded
    began = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as bar:
        task = bar.add_task("reindex with embeddings", total=service.count_mentors())
        _name, listed = service.reindex(progress=lambda n: bar.advance(task, n))
    return {"seconds": round(time.perf_counter() - began, 1), "listed": listed,
            "passages_embedded": service.passage_vectors.embedded - embedded}


def index_only(service: Any, count: int, specs: dict[str, list[dict[str, Any]]], need: dict[str, Any],
               rounds: int, scratch: str, clusters: tuple[str, ...] = (),
               cluster_urls: dict[str, str | None] | None = None) -> dict[str, Any]:
    """Search speed and memory on `count` mentors indexed directly, vectors from a real-model pool."""
    from bench.matching import bulk_index, synthetic_docs
    from services.matching.adapters.search_embedded import EmbeddedSearchIndex
    from services.matching.adapters.search_vectors import VectorSpace
    from services.matching.domain import meaning
    from services.matching.domain.search import build_search

    embedder = service.embedder
    cluster_urls = cluster_urls or {}
    pool_docs = synthetic_docs(2000, seed=3)
    began = time.perf_counter()
    meaning.attach_vectors(pool_docs, lambda texts: dict(zip(texts, meaning.quantise(embedder.embed(texts)))))
    pool_seconds = round(time.perf_counter() - began, 1)
    docs = synthetic_docs(count)
    for i, doc in enumerate(docs):
        doc["vector"] = pool_docs[i % len(pool_docs)]["vector"]
    index = EmbeddedSearchIndex(Path(scratch) / "index-only", "bench",
                                space=VectorSpace(embedder.model_id, embedder.dimensions))
    try:
        bulk_seconds = bulk_index(index, docs)
        calls = {name: [(lambda q=build_search(text=s.get("text"), criteria=s.get("criteria"), size=20,
                                               meaning=need[s.get("text") or s["goals"]]): index.search(q))
                        for s in group] for name, group in specs.items()}
        timings = {name: _timed(group, rounds) for name, group in calls.items()}
        criteria_only = _timed([lambda q=build_search(criteria=s["criteria"], size=20): index.search(q)
                                for s in specs["criteria_and_goals"]], rounds)
        matrix = index._current().matrix
        out = {"mentors": count, "pool_profiles": len(pool_docs), "pool_embedding_seconds": pool_seconds,
               "bulk_index_seconds": bulk_seconds, "search_with_need_vector": timings,
               "criteria_only_same_queries": criteria_only,
               "vector_store": {"rows": matrix._count, "memory_mib": round(matrix.nbytes / 2 ** 20, 1)}}
        queries = [build_search(text=s.get("text"), criteria=s.get("criteria"), size=10,
                                meaning=need[s.get("text") or s["goals"]]) for group in specs.values() for s in group]
        reference = [_top(index, q) for q in queries]
        for kind in clusters:
            out[kind] = index_only_cluster(kind, cluster_urls.get(kind), docs, calls_of=lambda idx: {
                name: [(lambda q=build_search(text=s.get("text"), criteria=s.get("criteria"), size=20,
                                              meaning=need[s.get("text") or s["goals"]]): idx.search(q))
                       for s in group] for name, group in specs.items()},
                rounds=rounds, queries=queries, reference=reference, space=VectorSpace(embedder.model_id,
                                                                                        embedder.dimensions))
            print(kind, out[kind], flush=True)
        return out
    finally:
        index.close()


def _top(index: Any, query: Any) -> list[tuple[str, float, Any]]:
    return [(h.member_id, h.score, h.similarity) for h in index.search(query).hits]


def index_only_cluster(kind: str, url: str | None, docs: list[dict[str, Any]],
                       calls_of: Callable[[Any], dict[str, list[Callable[[], Any]]]], rounds: int,
                       queries: list[Any], reference: list[Any], space: Any) -> dict[str, Any]:
    """The index-only figures on one cluster: bulk index with vectors, size on disk, search p50/p95,
    and how many of the queries' top 10 equal the embedded engine's."""
    from bench.matching import bulk_index, cluster_client, start_cluster
    from services.matching.adapters.search_dsl import DslSearchIndex, KnnVectors, ScriptedVectors

    address, stop = start_cluster(kind, url)
    try:
        client = cluster_client(kind, address)
        vectors = KnnVectors(space) if kind == "elasticsearch" else ScriptedVectors(space)
        index = DslSearchIndex(client, "bench-semantic", vectors=vectors)
        print(f"{kind}: bulk index with vectors ...", flush=True)
        figures: dict[str, Any] = {"bulk_index_seconds": bulk_index(index, docs),
                                   "url_source": "given" if url else "launched"}
        (name,) = client.alias_targets("bench-semantic")
        raw = client.client  # the library's client: force merge and stats are for the benchmark only
        try:
            raw.indices.forcemerge(index=name, max_num_segments=1)
            figures["force_merged"] = True
        except Exception as exc:  # a busy machine may outlast the timeout: report the size unmerged
            figures["force_merged"] = f"no: {exc}"[:200]
        stats = raw.indices.stats(index=name, metric="store")
        figures["index_mib"] = round(stats["indices"][name]["primaries"]["store"]["size_in_bytes"] / 2 ** 20, 1)
        figures["search_with_need_vector"] = {group: _timed(calls, rounds) for group, calls in calls_of(index).items()}
        figures["top10_equal_to_embedded"] = sum(_top(index, q) == ref for q, ref in zip(queries, reference))
        figures["top10_queries"] = len(queries)
        client.delete_index(name)
        client.close()
        return figures
    finally:
        stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mentors", type=int, default=100_000)
    parser.add_argument("--index-mentors", type=int, default=0)
    parser.add_argument("--changed", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--clusters", default="", help="with --index-mentors: elasticsearch,opensearch")
    parser.add_argument("--elasticsearch-url")
    parser.add_argument("--opensearch-url")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    clusters = tuple(kind for kind in args.clusters.split(",") if kind)

    from connect.bootstrap import build_container
    from connect.settings import Settings
    from services.matching.domain.search import build_search

    results: dict[str, Any] = {"benchmark": "matching_semantic", "mentors": args.mentors,
                               "measured_at": datetime.now(timezone.utc).isoformat(), "machine": machine()}
    _mentors, needs, _grades = load_judged()
    texts = [n["text"] for n in needs]
    rng = random.Random(5)
    with tempfile.TemporaryDirectory(prefix="bench-semantic-") as scratch:
        container = build_container(Settings(var_dir=Path(scratch), log_json=False), services=("matching",))
        try:
            module = container.services["matching"]
            module.database.upgrade(module.migrations)
            service = module.facade
            embedder = service.embedder
            results["model"] = embedder.model_id
            results["seed_seconds"] = seed(service, args.mentors)
            print(f"seeded {args.mentors} mentors in {results['seed_seconds']} s")
            results["bulk_reindex"] = reindex(service)
            print("bulk reindex:", results["bulk_reindex"])

            # The model alone, on distinct texts (the service keeps recent ones in memory).
            results["query_embedding"] = _timed([lambda t=t: embedder._run([t]) for t in texts], 3, cpu=True)
            print("query embedding:", results["query_embedding"])

            need = {t: service.need(t, None) for t in texts}
            specs = {
                "criteria_and_text": [{"text": rng.choice(texts), "criteria": {
                    "expertise": rng.sample(EXPERTISE, 1), "region": rng.choice(REGIONS), "languages": ["en"]}}
                    for _ in range(20)],
                "text_only": [{"text": t} for t in rng.sample(texts, 20)],
                "criteria_and_goals": [{"goals": rng.choice(texts), "criteria": {
                    "expertise": rng.sample(EXPERTISE, 2), "languages": ["en"]}} for _ in range(20)],
            }
            index_calls: dict[str, list[Callable[[], Any]]] = {}
            for name, group in specs.items():
                index_calls[name] = [
                    (lambda q=build_search(text=s.get("text"), criteria=s.get("criteria"), size=20,
                                           meaning=need[s.get("text") or s["goals"]]): service.index.search(q))
                    for s in group]
            results["search_with_need_vector"] = {name: _timed(calls, args.rounds)
                                                  for name, calls in index_calls.items()}
            print("index search, need given:", results["search_with_need_vector"])

            def end_to_end(spec: dict[str, Any]) -> Callable[[], Any]:
                def run() -> Any:
                    embedder._recent.clear()  # the need is embedded each time, as for a new search
                    return service.search("BENCH-SEEKER", text=spec.get("text") or spec["goals"],
                                          criteria=spec.get("criteria"), size=20)
                return run

            results["search_embedding_included"] = {
                name: _timed([end_to_end(s) for s in group], max(3, args.rounds // 5))
                for name, group in specs.items()}
            print("service search, embedding included:", results["search_embedding_included"])

            opened = service.index._current()
            results["vector_store"] = {"rows": opened.matrix._count, "dimensions": opened.matrix.dimensions,
                                       "memory_mib": round(opened.matrix.nbytes / 2 ** 20, 1),
                                       "file_mib": round((opened.matrix.path.stat().st_size) / 2 ** 20, 1)}
            print("vector store:", results["vector_store"])

            # Incremental: M bios change; the indexer refreshes them (as MentorProfileChanged would).
            from dataclasses import fields

            from services.matching.domain.profiles import MentorProfile

            changed = [f"S{n:06d}" for n in rng.sample(range(1, args.mentors + 1), args.changed)]
            for member_id in changed:
                current = service.get_mentor_profile(member_id)
                profile = MentorProfile.from_dict({f.name: current[f.name] for f in fields(MentorProfile)})
                service.put_mentor_profile(member_id, MentorProfile.from_dict(
                    {**profile.to_dict(), "bio": profile.bio + f" Lately I also coach on topic {member_id}."}))
            embedded = service.passage_vectors.embedded
            began, began_cpu = time.perf_counter(), time.process_time()
            for start in range(0, len(changed), 100):
                service.refresh_index(changed[start:start + 100])
            results["incremental"] = {"changed": args.changed,
                                      "refresh_seconds": round(time.perf_counter() - began, 2),
                                      # every thread of the process: what a machine to itself would take, about
                                      "refresh_cpu_seconds": round(time.process_time() - began_cpu, 2),
                                      "passages_embedded": service.passage_vectors.embedded - embedded}
            results["incremental"]["full_reindex_after"] = reindex(service)
            print("incremental:", results["incremental"])
            if args.index_mentors:
                results["index_only"] = index_only(
                    service, args.index_mentors, specs, need, args.rounds, scratch, clusters,
                    {"elasticsearch": args.elasticsearch_url, "opensearch": args.opensearch_url})
                print("index only:", results["index_only"])
        finally:
            container.close()
    results["machine"]["load_average_at_end"] = __import__("os").getloadavg()
    if not args.no_save:
        args.results.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
