"""Every POST that honours Idempotency-Key answers a replay exactly as it answered the first
time: same status, same body, same Location and ETag, plus `Idempotent-Replayed`."""

from __future__ import annotations

from datetime import timedelta

import pytest

HEADERS = ("location", "etag")


def _same_answer_twice(client, url, headers, body=None):
    keyed = {**headers, "Idempotency-Key": f"key-{url}"}
    first = client.post(url, headers=keyed, json=body)
    replay = client.post(url, headers=keyed, json=body)
    assert first.status_code < 300, first.text
    assert (replay.status_code, replay.json()) == (first.status_code, first.json())
    assert {h: replay.headers.get(h) for h in HEADERS} == {h: first.headers.get(h) for h in HEADERS}
    assert replay.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    return first


@pytest.mark.parametrize("route", ["proposal", "accept", "meeting", "tool", "message", "nudge", "support"])
def test_a_replay_equals_the_first_answer(client, propose, clock, route):
    pair = propose("M1", "M2", accept=route != "accept")
    if route == "proposal":
        other = propose("M3", "M4", accept=False)
        client.post(other.url + "/withdraw", headers=other.mentee)
        first = _same_answer_twice(client, "/v1/proposals", other.mentee, {
            "mentor_id": "M4", "message": "Again?", "duration_months": 3})
        assert first.headers["location"].endswith(first.json()["id"])
    elif route == "accept":
        first = _same_answer_twice(client, pair.url + "/accept", pair.mentor)
        assert first.headers["etag"] == first.json()["etag"]
    elif route == "meeting":
        first = _same_answer_twice(client, pair.url + "/meetings", pair.mentee, {
            "starts_at": (clock.now() + timedelta(days=2)).isoformat(), "duration_minutes": 45, "mode": "video"})
        assert first.headers["location"] == f"{pair.url}/meetings/{first.json()['id']}"
    elif route == "tool":
        first = _same_answer_twice(client, pair.url + "/tools/goals", pair.mentee, {"goal": "Speak"})
        assert first.headers["location"] == f"{pair.url}/tools/goals/{first.json()['id']}"
    elif route == "message":
        first = _same_answer_twice(client, pair.url + "/messages", pair.mentee, {"body": "Hello"})
        assert first.status_code == 201 and first.headers["location"] == pair.url + "/messages"
    elif route == "nudge":
        clock.advance(timedelta(days=15))
        first = _same_answer_twice(client, pair.url + "/nudge", pair.mentee)
        assert first.status_code == 202
    else:
        first = _same_answer_twice(client, "/v1/support-requests", pair.mentee, {"kind": "other", "message": "Hi"})
        assert first.headers["location"] == f"/v1/support-requests/{first.json()['id']}"
