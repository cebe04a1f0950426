"""The distributed shape end to end: PostgreSQL, the outbox relay to Kafka, the indexer role
consuming from Kafka, Elasticsearch (and OpenSearch) behind a versioned alias; then a rebuild
swaps the alias."""

from __future__ import annotations

import time
import uuid

from fastapi.testclient import TestClient

from connect.bootstrap import BackgroundRunner


def _wait_for(predicate, seconds: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_profile_changes_reach_the_search_cluster_through_kafka(pg_database, kafka_bootstrap, search_cluster,
                                                                make_container):
    from connect.web import create_app

    alias = f"it-mentors-{uuid.uuid4().hex[:8]}"
    container = make_container(matching_database_url=pg_database, search_url=search_cluster.search_url,
                               search_index_alias=alias, kafka_bootstrap=kafka_bootstrap)
    issuer = container.dev_issuer
    assert issuer is not None
    run = uuid.uuid4().hex[:6]

    def auth(member_id: str) -> dict[str, str]:
        return {"Authorization": "Bearer " + issuer.mint(member_id, f"Member {member_id}", "m@example.org")}

    mentor, seeker = f"K{run}A", f"K{run}S"
    runner = BackgroundRunner(container)
    runner.start(relays=True, consumer_roles={"indexer"}, jobs=False)
    try:
        with TestClient(create_app(container), raise_server_exceptions=False) as client:
            body = {"headline": "Marine underwriter", "expertise": ["underwriting"], "interests": [run]}
            assert client.put("/v1/members/me/mentor-profile", json=body, headers=auth(mentor)).status_code == 200

            def found() -> list[str]:
                page = client.post("/v1/mentors/search", json={"criteria": {"interests": run}},
                                   headers=auth(seeker)).json()
                return [r["mentor"]["member_id"] for r in page["results"]]

            assert _wait_for(found) == [mentor]
            # Meaning on the cluster: the indexer stored the profile vector, the need ranks by it,
            # and the result says which sentence of the profile matched (as on the embedded engine).
            page = client.post("/v1/mentors/search", json={"text": "I insure ships and their cargo",
                                                           "criteria": {"interests": run}},
                               headers=auth(seeker)).json()
            assert page["need"] == "text"
            (result,) = page["results"]
            assert result["matched_text"]["sentence"] in ("Marine underwriter", "Expertise: Underwriting")
            assert result["matched_text"]["similarity"] > 0.1
            assert result["match_percent"] == 100
            client.put("/v1/members/me/mentor-profile/availability", json={"available": False},
                       headers=auth(mentor))
            assert _wait_for(lambda: found() == []), "unavailable mentor still listed"

            service = container.service("matching")
            client.put("/v1/members/me/mentor-profile/availability", json={"available": True},
                       headers=auth(mentor))
            name, listed = service.reindex()
            assert listed == 1 and name.startswith(alias)
            assert service.index.client.alias_targets(alias) == [name]
            assert found() == [mentor]
    finally:
        runner.stop()
        for index_name in container.service("matching").index.client.alias_targets(alias):
            container.service("matching").index.client.delete_index(index_name)
