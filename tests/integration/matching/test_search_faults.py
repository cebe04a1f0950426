"""The Elasticsearch node is SIGKILLed while the indexer applies profile changes (PostgreSQL,
outbox relay, Kafka, the indexer role), stays down longer than any retry burst, and comes back:
the index must converge to the database (no change lost, none stale), and meanwhile a search
answers 503 problem+json, never 500.

A node of its own (its data folder kept across the kill), not the session's: it is killed."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from connect.bootstrap import BackgroundRunner
from tests.engines import engine_unavailable
from tests.waiting import eventually

MENTORS = 8
# How long the node stays down once the indexer has met the outage: longer than the consumer's
# retry burst (about 3 s of backoff), so a change must wait for the node, not be given up on.
OUTAGE_SECONDS = 8.0
INDEXER = "matching-indexer"


@pytest.fixture
def own_elasticsearch(tmp_path: Path) -> Any:
    from stack.engines.base import EngineError
    from stack.engines.elasticsearch import ElasticsearchEngine

    engine = ElasticsearchEngine(tmp_path / "es")
    try:
        engine.start()
    except EngineError as exc:
        engine.stop()
        engine_unavailable("elasticsearch", str(exc.args[0]), exc.log_tail)
    yield engine
    engine.stop()


@pytest.mark.timeout(300)
def test_index_converges_after_the_node_is_killed_mid_indexing(own_elasticsearch, pg_database, kafka_bootstrap,
                                                               make_container, caplog) -> None:
    from connect.events import dead_letter_topic
    from connect.web import create_app

    engine = own_elasticsearch
    alias = f"fault-mentors-{uuid.uuid4().hex[:8]}"
    container = make_container(matching_database_url=pg_database, search_url=f"elasticsearch+{engine.url}",
                               search_index_alias=alias, kafka_bootstrap=kafka_bootstrap)
    issuer = container.dev_issuer
    assert issuer is not None
    run = uuid.uuid4().hex[:6]
    mentors = [f"F{run}{n:02d}" for n in range(MENTORS)]
    tokens = {member: {"Authorization": "Bearer " + issuer.mint(member, f"Mentor {member}", "m@example.org")}
              for member in [*mentors, "SEEKER"]}
    index = container.service("matching").index
    index.ensure()

    def put(client: TestClient, member: str, round_: int) -> None:
        body = {"headline": f"Underwriter, round {round_}", "expertise": ["underwriting"], "interests": [run]}
        response = client.put("/v1/members/me/mentor-profile", json=body, headers=tokens[member])
        assert response.status_code == 200, response.text

    def indexed() -> dict[str, str]:
        """member -> headline, straight from the node."""
        hits = index.client.search(alias, {"query": {"match_all": {}}, "size": 100})["hits"]["hits"]
        return {hit["_id"]: hit["_source"]["profile"]["headline"] for hit in hits}

    runner = BackgroundRunner(container)
    runner.start(relays=True, consumer_roles={"indexer"}, jobs=False)
    try:
        with TestClient(create_app(container), raise_server_exceptions=False) as client:
            for member in mentors:
                put(client, member, 0)
            eventually(lambda: len(indexed()) == MENTORS, 60, "every mentor indexed")

            # Round 1 while the indexer works through it: the node dies under it.
            killed_at: dict[str, Any] = {}

            def applied() -> int:
                return sum(1 for headline in indexed().values() if headline.endswith("round 1"))

            def kill_once_some_are_applied() -> None:
                deadline = time.monotonic() + 60
                while not killed_at.get("applied") and time.monotonic() < deadline:
                    killed_at["applied"] = applied()
                    time.sleep(0.05)
                os.kill(engine.pid, signal.SIGKILL)
                engine.process.wait(30)

            killer = threading.Thread(target=kill_once_some_are_applied)
            killer.start()
            for member in mentors:
                put(client, member, 1)
            killer.join()
            killed = time.monotonic()
            print(f"node killed with {killed_at['applied']} of {MENTORS} round-1 changes applied")
            # Killed while the indexer was applying the round: some of it done, not all.
            assert 0 < killed_at["applied"] < MENTORS

            # While the node is down: every member's last change, and three go unavailable.
            for member in mentors:
                put(client, member, 2)
            gone = mentors[:3]
            for member in gone:
                response = client.put("/v1/members/me/mentor-profile/availability", json={"available": False},
                                      headers=tokens[member])
                assert response.status_code == 200, response.text


            def indexer_failures() -> int:
                return sum(1 for r in caplog.records
                           if r.getMessage().startswith(f"group {INDEXER}: ") and "waits for a dependency" in r.getMessage())

            # The indexer meets the outage (it is not merely idle while the node is down) ...
            eventually(indexer_failures, 60, "the indexer failing against the dead node")
            met = time.monotonic()
            searches = 0
            # ... and the node stays down well past its retry burst.
            while time.monotonic() - met < OUTAGE_SECONDS:
                response = client.post("/v1/mentors/search", json={"criteria": {"interests": run}},
                                       headers=tokens["SEEKER"])
                assert response.status_code == 503, response.text
                assert response.headers["content-type"].startswith("application/problem+json")
                problem = response.json()
                assert problem["status"] == 503 and problem["type"].endswith("search-unavailable"), problem
                searches += 1
                time.sleep(0.5)
            assert searches >= 5

            engine.start()
            print(f"node back after {time.monotonic() - killed:.1f}s (restart {engine.started_seconds:.1f}s); "
                  f"the indexer waited {indexer_failures()} times meanwhile")
            expected = {member: "Underwriter, round 2" for member in mentors if member not in gone}
            eventually(lambda: indexed() == expected, 120, "the index equal to the database")

            page = client.post("/v1/mentors/search", json={"criteria": {"interests": run}, "page": {"size": 50}},
                               headers=tokens["SEEKER"])
            assert page.status_code == 200, page.text
            assert sorted(r["mentor"]["member_id"] for r in page.json()["results"]) == sorted(expected)
    finally:
        runner.stop()
    # Nothing was given up on: the indexer's dead-letter topic holds none of these mentors.
    consumer = container.transport.consumer(f"probe-{run}", [dead_letter_topic(INDEXER)])
    try:
        dead = [r.key for _ in range(3) for r in consumer.poll(2.0) if (r.key or "").startswith(f"F{run}")]
    finally:
        consumer.close()
    assert dead == []
