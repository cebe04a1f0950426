"""Idempotency-Key on POSTs: replay, changed body, in flight, and 50 concurrent duplicates."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from services.relationships.adapters import orm
from tests.unit.relationships.conftest import proposal_body
from tests.relationships_suite import row_count
from tests.unit.relationships.conftest import relationship_events


def test_fifty_concurrent_identical_posts_create_one_proposal(client, auth, container, mentor):
    mentor("M2")
    headers = {**auth("M1"), "Idempotency-Key": "create-once"}
    body = proposal_body("M2")
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda _: client.post("/v1/proposals", json=body, headers=headers), range(50)))
    statuses = sorted({a.status_code for a in answers})
    assert set(statuses) <= {201, 409}, [a.text for a in answers if a.status_code not in (201, 409)]
    created = {a.json()["id"] for a in answers if a.status_code == 201}
    assert len(created) == 1
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["type"].endswith("idempotency-key-in-flight")
    assert row_count(container, orm.relationships) == 1
    assert [e["type"] for e in relationship_events(container)] == ["ProposalSent"]
    # Once done, the key replays the first answer, byte for byte.
    replay = client.post("/v1/proposals", json=body, headers=headers)
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] in created and replay.headers["location"].endswith(replay.json()["id"])


def test_changed_body_is_422_and_errors_replay_too(client, auth, container, mentor, set_availability):
    mentor("M2")
    headers = {**auth("M1"), "Idempotency-Key": "k1"}
    first = client.post("/v1/proposals", json=proposal_body("M2"), headers=headers)
    assert first.status_code == 201
    changed = client.post("/v1/proposals", json=proposal_body("M2", duration_months=3), headers=headers)
    assert changed.status_code == 422 and changed.json()["type"].endswith("idempotency-key-reused")
    # Another member's identical key is a different key.
    other = client.post("/v1/proposals", json=proposal_body("M2"), headers={**auth("M7"), "Idempotency-Key": "k1"})
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    # A transition's 409 is the answer for that key, replayed even after the state moved on.
    url = f"/v1/relationships/{first.json()['id']}"
    mentee_key = {**auth("M1"), "Idempotency-Key": "accept-try"}
    refused = client.post(url + "/accept", headers=mentee_key)
    assert refused.status_code == 409
    again = client.post(url + "/accept", headers=mentee_key)
    assert again.status_code == 409 and again.headers["idempotent-replayed"] == "true"
    accept_key = {**auth("M2"), "Idempotency-Key": "accept-1"}
    assert client.post(url + "/accept", json={"reason": "yes"}, headers=accept_key).status_code == 200
    replayed = client.post(url + "/accept", json={"reason": "yes"}, headers=accept_key)
    assert replayed.status_code == 200 and replayed.json()["status"] == "accepted"
    assert [e["type"] for e in relationship_events(container, first.json()["id"])] == ["ProposalSent", "ProposalAccepted"]


def test_in_flight_key_is_409(client, auth, container, mentor):
    mentor("M2")
    store = container.service("relationships").idempotency
    from services.relationships.adapters.idempotency import request_hash

    body = proposal_body("M2")
    from services.relationships.proposals.api import ProposalIn

    fingerprint = request_hash("POST", "/v1/proposals", ProposalIn(**body).model_dump(mode="json"))
    assert store.reserve("M1", "slow", fingerprint) is None  # as if a first request were still running
    answer = client.post("/v1/proposals", json=body, headers={**auth("M1"), "Idempotency-Key": "slow"})
    assert answer.status_code == 409 and answer.headers["retry-after"] == "1"
    assert row_count(container, orm.relationships) == 0


def test_keys_replay_for_at_least_a_day_then_are_forgotten(client, auth, container, mentor, clock):
    from datetime import timedelta

    mentor("M2")
    headers = {**auth("M1"), "Idempotency-Key": "kept"}
    first = client.post("/v1/proposals", json=proposal_body("M2"), headers=headers).json()
    clock.advance(timedelta(hours=25))
    replay = client.post("/v1/proposals", json=proposal_body("M2"), headers={**auth("M1"), "Idempotency-Key": "kept"})
    assert replay.status_code == 201 and replay.json()["id"] == first["id"]
    assert replay.headers["idempotent-replayed"] == "true"
    clock.advance(timedelta(hours=24))
    container.service("relationships").sweep()  # purges keys past their retention
    assert row_count(container, orm.idempotency_keys) == 0
    # A forgotten key is a new request: here the pair already has an open relationship.
    fresh = client.post("/v1/proposals", json=proposal_body("M2"), headers={**auth("M1"), "Idempotency-Key": "kept"})
    assert fresh.status_code == 409 and fresh.json()["relationship_id"] == first["id"]
