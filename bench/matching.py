"""Mentor search benchmark: 100k synthetic mentors on the embedded engine (tantivy), Elasticsearch
and OpenSearch, and the HTTP API.

    python -m bench.matching [--mentors 100000] [--elasticsearch-url URL] [--opensearch-url URL]
                             [--skip-elasticsearch] [--skip-opensearch] [--skip-http]

Measures, on this machine, with the same mentors and the same queries on every engine:
  * bulk index time of N mentors (a full `reindex` build + alias swap) on each engine;
  * p50/p95/p99 latency of a fixed set of 7-criterion queries and of criteria+text queries,
    through the search adapters (query compile, engine, result documents), one engine after the other;
  * whether the criteria-only queries give the same top 20 (ids, order and scores) on every engine;
  * requests/s of `POST /v1/mentors/search` against `connect serve --workers N` (N = 1 and 2 by
    default) on loopback, driven by `wrk` (Debian package `wrk`) with the 7-criterion queries;
  * how long a profile change takes to become searchable in the embedded shape (PUT -> found).

Each cluster comes from its --*-url option (or CONNECT_BENCH_ELASTICSEARCH_URL /
CONNECT_BENCH_OPENSEARCH_URL), else from the launchers in stack/engines (Maven Central jars; one
at a time, both with a 1 GiB heap and the full JIT, stopped after their turn).  Results go to
bench/results/matching.json with the machine they were measured on, and a table is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from faker import Faker

from bench._common import machine, percentile

RESULTS = Path(__file__).resolve().parent / "results" / "matching.json"
ROOT = Path(__file__).resolve().parents[1]

EXPERTISE = ["underwriting", "claims", "broking", "risk_management", "actuarial", "compliance",
             "financial_planning", "career_planning", "work_life_balance", "leadership"]
SECTORS = ["general_insurance", "life_pensions", "lloyds_london_market", "broking", "financial_advice",
           "reinsurance"]
REGIONS = ["london", "south_east", "north_west", "scotland", "wales", "west_midlands"]
TEXTS = ["pensions transfer advice", "cyber underwriting ransomware", "claims leadership", "exam study acii",
         "broker placement london market", "career change into compliance", "confidence presenting",
         "reinsurance treaty pricing"]


def synthetic_docs(count: int, seed: int = 1) -> list[dict[str, Any]]:
    from services.matching.demo import fake_mentor_profile
    from services.matching.domain.profiles import index_document

    rng = random.Random(seed)
    faker = Faker("en_GB")
    faker.seed_instance(seed)
    names = [faker.name() for _ in range(2000)]
    return [index_document(f"B{n:07d}", names[n % len(names)], fake_mentor_profile(rng, faker),
                           rng.choice([0, 0, 0, 1, 1, 2, 3, 4])) for n in range(count)]


def query_specs(seed: int = 2) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Twenty 7-criterion searches and twenty criteria+text searches, fixed by the seed."""
    rng = random.Random(seed)
    seven = []
    for _ in range(20):
        seven.append({"criteria": {
            "expertise": rng.sample(EXPERTISE, 2),
            "sectors": rng.sample(SECTORS, 1),
            "career_stage": rng.sample(["mid", "senior", "executive"], 2),
            "region": rng.choice(REGIONS),
            "languages": ["en"],
            "interaction_modes": rng.sample(["video", "in_person", "email"], 1),
            "years_experience": rng.choice([5, 10, 15]),
        }, "weights": {"expertise": 3, "sectors": 2}})
    with_text = []
    for _ in range(20):
        with_text.append({"text": rng.choice(TEXTS), "criteria": {
            "expertise": rng.sample(EXPERTISE, 1), "region": rng.choice(REGIONS), "languages": ["en"]}})
    return seven, with_text


def time_queries(index: Any, specs: list[dict[str, Any]], rounds: int) -> dict[str, float]:
    from services.matching.domain.search import build_search

    queries = [build_search(text=s.get("text"), criteria=s.get("criteria"), weights=s.get("weights"), size=20)
               for s in specs]
    for query in queries:  # warm caches and connections
        index.search(query)
    samples = []
    for _ in range(rounds):
        for query in queries:
            began = time.perf_counter()
            index.search(query)
            samples.append((time.perf_counter() - began) * 1000)
    return {"p50_ms": round(percentile(samples, 50), 2), "p95_ms": round(percentile(samples, 95), 2),
            "p99_ms": round(percentile(samples, 99), 2), "queries": len(samples)}


def bulk_index(index: Any, docs: list[dict[str, Any]]) -> float:
    began = time.perf_counter()
    build = index.begin_build()
    build.add(docs)
    build.swap(datetime.now(timezone.utc))
    return round(time.perf_counter() - began, 2)


def top_results(index: Any, specs: list[dict[str, Any]], size: int = 20) -> list[list[list[Any]]]:
    """The first `size` (member_id, score) of each query, in order."""
    from services.matching.domain.search import build_search

    return [[[hit.member_id, hit.score] for hit in index.search(build_search(
        criteria=s.get("criteria"), weights=s.get("weights"), size=size)).hits] for s in specs]


def start_cluster(kind: str, url: str | None) -> tuple[str, Callable[[], None]]:
    """A cluster's URL and how to stop it: the one given, or a node of its own."""
    if url:
        return url, lambda: None
    from stack.engines import engine_class

    # The same heap for both, and the full JIT: the tests' fast-start option would slow the queries.
    engine = engine_class(kind)(heap="1g", fast_start=False)
    engine.start()
    return engine.url, engine.stop


def cluster_client(kind: str, url: str) -> Any:
    if kind == "elasticsearch":
        from services.matching.adapters.search_elasticsearch import ElasticsearchClient

        return ElasticsearchClient(url, timeout=120)
    from services.matching.adapters.search_opensearch import OpenSearchClient

    return OpenSearchClient(url, timeout=120)


def measure_cluster(kind: str, url: str | None, docs: list[dict[str, Any]], seven: list[dict[str, Any]],
                    with_text: list[dict[str, Any]], rounds: int) -> tuple[dict[str, Any], list[Any]]:
    from services.matching.adapters.search_dsl import DslSearchIndex

    address, stop = start_cluster(kind, url)
    try:
        client = cluster_client(kind, address)
        index = DslSearchIndex(client, "bench-mentors")
        print(f"{kind}: bulk index ...", flush=True)
        figures: dict[str, Any] = {"bulk_index_s": bulk_index(index, docs),
                                   "url_source": "given" if url else "launched"}
        figures["seven_criteria"] = time_queries(index, seven, rounds)
        figures["criteria_and_text"] = time_queries(index, with_text, rounds)
        tops = top_results(index, seven)
        for name in client.alias_targets("bench-mentors"):
            client.delete_index(name)
        client.close()
        return figures, tops
    finally:
        stop()


def compare_tops(tops: dict[str, list[Any]]) -> dict[str, Any]:
    """Whether every engine gave the same top 20 for each criteria-only query; the first
    difference of each query that differs."""
    engines = list(tops)
    differences = []
    for n, reference in enumerate(tops[engines[0]]):
        for other in engines[1:]:
            if tops[other][n] != reference:
                at = next((i for i, (a, b) in enumerate(zip(reference, tops[other])) if a != b),
                          min(len(reference), len(tops[other])))
                differences.append({"query": n, "engines": [engines[0], other], "rank": at + 1,
                                    engines[0]: reference[at:at + 3], other: tops[other][at:at + 3]})
    return {"engines": engines, "queries": len(tops[engines[0]]), "identical": not differences,
            "differences": differences}


# --- HTTP -----------------------------------------------------------------------------------

WRK_SCRIPT = """
local bodies = {%s}
local i = 0
request = function()
  i = i %% #bodies + 1
  return wrk.format("POST", "/v1/mentors/search",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %s"}, bodies[i])
end
"""


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_http(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def measure_http(docs: list[dict[str, Any]], seven: list[dict[str, Any]], seconds: int,
                 connections: int, workers: int = 1, threads: int = 2) -> dict[str, Any]:
    """`connect serve --workers N` on loopback over an embedded index of `docs`, loaded by wrk."""
    from connect.auth import DevIssuer
    from connect.settings import Settings
    from services.matching.adapters.search_embedded import EmbeddedSearchIndex

    wrk = shutil.which("wrk")
    if not wrk:
        return {"skipped": "wrk not found (apt-get install -y wrk)"}
    var_dir = Path(tempfile.mkdtemp(prefix="bench-matching-"))
    env = {**os.environ, "CONNECT_VAR_DIR": str(var_dir), "CONNECT_LOG_LEVEL": "WARNING",
           "CONNECT_REQUEST_THREADS": str(threads)}
    for name in ("CONNECT_SEARCH_URL", "CONNECT_DATABASE_URL", "CONNECT_KAFKA_BOOTSTRAP", "CONNECT_CELERY_BROKER"):
        env.pop(name, None)
    index = EmbeddedSearchIndex(var_dir / "search", Settings().search.search_index_alias)
    bulk_index(index, docs)
    index.close()
    port = _free_port()
    connect = shutil.which("connect", path=str(Path(sys.executable).parent)) or "connect"
    server_log = open(var_dir / "serve.log", "wb")
    server = subprocess.Popen([connect, "serve", "--port", str(port), "--workers", str(workers)],
                              env=env, cwd=str(var_dir),
                              stdout=server_log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_http(f"http://127.0.0.1:{port}/healthz")
        if workers > 1:
            time.sleep(5)  # the extra API processes start after the main one answers
        issuer = DevIssuer(var_dir / "dev-issuer", Settings().auth)
        token = issuer.mint("BENCH-SEEKER", "Bench Seeker", "seeker@example.org", ttl_seconds=3600)
        bodies = ", ".join(json.dumps(json.dumps({**spec, "page": {"size": 20}})) for spec in seven)
        script = var_dir / "search.lua"
        script.write_text(WRK_SCRIPT % (bodies, token))
        # One request first: the first call registers the member and opens the index.
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/mentors/search", method="POST",
                                         data=json.dumps(seven[0]).encode(),
                                         headers={"Content-Type": "application/json",
                                                  "Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200 and json.loads(response.read())["total"] > 0
        out = subprocess.run([wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
                              f"http://127.0.0.1:{port}"], capture_output=True, text=True, check=True).stdout
        figures: dict[str, Any] = {"tool": "wrk", "workers": workers, "request_threads": threads,
                                   "connections": connections, "seconds": seconds}
        for line in out.splitlines():
            parts = line.split()
            if line.startswith("Requests/sec:"):
                figures["requests_per_second"] = float(parts[1])
            elif parts[:1] in (["50%"], ["99%"]):
                figures[f"p{parts[0][:-1]}"] = parts[1]
            elif "Non-2xx" in line:
                figures["non_2xx"] = int(parts[-1])
        return figures
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        server_log.close()
        shutil.rmtree(var_dir, ignore_errors=True)


def measure_freshness(samples: int = 10) -> dict[str, Any]:
    """Embedded shape: a profile PUT, then searches until the mentor is found (outbox -> consumer -> index)."""
    from fastapi.testclient import TestClient

    from connect.bootstrap import BackgroundRunner, build_container
    from connect.settings import Settings
    from connect.web import create_app

    var_dir = Path(tempfile.mkdtemp(prefix="bench-fresh-"))
    container = build_container(Settings(var_dir=var_dir))
    container.upgrade_databases()
    runner = BackgroundRunner(container)
    runner.start(jobs=False)
    lags = []
    try:
        with TestClient(create_app(container)) as client:
            assert container.dev_issuer is not None
            seeker = {"Authorization": "Bearer " + container.dev_issuer.mint("SEEK", "Seeker", "s@example.org")}
            for n in range(samples):
                member = f"FRESH{n}"
                headers = {"Authorization": "Bearer " + container.dev_issuer.mint(member, member, "f@example.org")}
                body = {"headline": "Fresh", "expertise": ["esg"], "interests": [member.lower()]}
                began = time.perf_counter()
                assert client.put("/v1/members/me/mentor-profile", json=body, headers=headers).status_code == 200
                while True:
                    page = client.post("/v1/mentors/search", json={"criteria": {"interests": member.lower()}},
                                       headers=seeker).json()
                    if page["total"]:
                        break
                    if time.perf_counter() - began > 10:
                        raise RuntimeError("profile change not searchable within 10 s")
                    time.sleep(0.01)
                lags.append((time.perf_counter() - began) * 1000)
    finally:
        runner.stop()
        container.close()
        shutil.rmtree(var_dir, ignore_errors=True)
    return {"p50_ms": round(statistics.median(lags)), "max_ms": round(max(lags)), "samples": len(lags)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mentors", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=25, help="passes over each query set per engine")
    parser.add_argument("--elasticsearch-url", default=os.environ.get("CONNECT_BENCH_ELASTICSEARCH_URL"))
    parser.add_argument("--opensearch-url", default=os.environ.get("CONNECT_BENCH_OPENSEARCH_URL"))
    parser.add_argument("--skip-elasticsearch", action="store_true")
    parser.add_argument("--skip-opensearch", action="store_true")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--http-seconds", type=int, default=15)
    parser.add_argument("--http-connections", type=int, default=16)
    parser.add_argument("--http-threads", type=int, default=2,
                        help="CONNECT_REQUEST_THREADS of each API process (an embedded search runs on the "
                             "event loop; a first sight of a token and other endpoints use the threads)")
    parser.add_argument("--http-workers", default="1,2",
                        help="comma-separated `connect serve --workers` counts to measure, one run each")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    from services.matching.adapters.search_embedded import EmbeddedSearchIndex

    print(f"generating {args.mentors} synthetic mentors ...", flush=True)
    began = time.perf_counter()
    docs = synthetic_docs(args.mentors)
    print(f"  {time.perf_counter() - began:.1f}s", flush=True)
    seven, with_text = query_specs()
    results: dict[str, Any] = {"measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                               "machine": machine(), "mentors": args.mentors,
                               "command": "python -m bench.matching", "engines": {}}

    tops: dict[str, list[Any]] = {}
    folder = Path(tempfile.mkdtemp(prefix="bench-tantivy-"))
    try:
        embedded = EmbeddedSearchIndex(folder, "bench")
        print("embedded: bulk index ...", flush=True)
        figures: dict[str, Any] = {"bulk_index_s": bulk_index(embedded, docs)}
        figures["seven_criteria"] = time_queries(embedded, seven, args.rounds)
        figures["criteria_and_text"] = time_queries(embedded, with_text, args.rounds)
        tops["embedded"] = top_results(embedded, seven)
        results["engines"]["embedded"] = figures
        embedded.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    for kind, url, skip in (("elasticsearch", args.elasticsearch_url, args.skip_elasticsearch),
                            ("opensearch", args.opensearch_url, args.skip_opensearch)):
        if not skip:
            results["engines"][kind], tops[kind] = measure_cluster(kind, url, docs, seven, with_text, args.rounds)
    if len(tops) > 1:
        results["criteria_only_top20"] = compare_tops(tops)

    print("embedded shape: profile change -> searchable ...", flush=True)
    results["embedded_freshness"] = measure_freshness()
    if not args.skip_http:
        print("http: connect serve + wrk ...", flush=True)
        results["http_search"] = [measure_http(docs, seven, args.http_seconds, args.http_connections, int(n),
                                               args.http_threads)
                                  for n in args.http_workers.split(",")]

    results["machine"]["load_average_at_end"] = [round(x, 1) for x in os.getloadavg()]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    print(f"results written to {args.output}")


def print_table(results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"mentor search, {results['mentors']} mentors, {results['machine']['cores']} cores")
    table.add_column("figure")
    engines = list(results["engines"])
    for name in engines:
        table.add_column(name, justify="right")
    table.add_row("bulk index (s)", *[str(results["engines"][e]["bulk_index_s"]) for e in engines])
    for label, key in (("7 criteria", "seven_criteria"), ("criteria + text", "criteria_and_text")):
        for q in ("p50_ms", "p95_ms", "p99_ms"):
            table.add_row(f"{label} {q.replace('_ms', '')} (ms)",
                          *[str(results["engines"][e][key][q]) for e in engines])
    Console().print(table)
    embedded = results["engines"]["embedded"]
    for other in [e for e in engines if e != "embedded"]:
        ratios = [embedded[key]["p95_ms"] / results["engines"][other][key]["p95_ms"]
                  for key in ("seven_criteria", "criteria_and_text")]
        print(f"embedded p95 / {other} p95: " + " and ".join(f"{r:.2f}" for r in ratios)
              + " (7 criteria, criteria + text; target <= 0.33)")
    if "criteria_only_top20" in results:
        same = results["criteria_only_top20"]
        print("criteria-only top 20 on %s: %s" % (", ".join(same["engines"]),
                                                  "identical" if same["identical"] else same["differences"]))
    for http in results.get("http_search") or []:
        print("HTTP search API:", json.dumps(http))
    print("embedded profile change -> searchable:", json.dumps(results["embedded_freshness"]))


if __name__ == "__main__":
    main()
