"""Meetings over HTTP: arrange, list, change, cancel; the calendar sequence; bad input."""

from __future__ import annotations

from datetime import timedelta

from tests.relationships_suite import published


def _at(clock, **delta):
    return (clock.now() + timedelta(**delta)).isoformat().replace("+00:00", "Z")


def test_meeting_lifecycle_keeps_one_uid_and_raises_the_sequence(client, pair, clock, container):
    body = {"starts_at": _at(clock, days=3), "duration_minutes": 60, "mode": "video",
            "location_or_link": "https://meet.example.org/ada-grace", "agenda": "SWOT", "time_zone": "Europe/London"}
    created = client.post(pair.url + "/meetings", json=body, headers=pair.mentee)
    assert created.status_code == 201, created.text
    meeting = created.json()
    assert meeting["status"] == "scheduled" and meeting["sequence"] == 0 and meeting["organiser_id"] == "M1"
    assert created.headers["location"] == f"{pair.url}/meetings/{meeting['id']}"

    # The mentor moves it; then cancels it.
    moved = client.patch(f"{pair.url}/meetings/{meeting['id']}", json={"starts_at": _at(clock, days=4)},
                         headers=pair.mentor)
    assert moved.status_code == 200, moved.text
    assert moved.json()["sequence"] == 1
    cancelled = client.delete(f"{pair.url}/meetings/{meeting['id']}", headers=pair.mentee)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["sequence"] == 2
    again = client.delete(f"{pair.url}/meetings/{meeting['id']}", headers=pair.mentee)
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"

    listed = client.get(pair.url + "/meetings", headers=pair.mentor).json()["items"]
    assert [(m["id"], m["status"]) for m in listed] == [(meeting["id"], "cancelled")]

    events = published(container, types=("MeetingScheduled", "MeetingChanged", "MeetingCancelled"))
    assert [(e["type"], e["data"]["meeting_id"], e["data"]["sequence"], e["data"]["actor_id"]) for e in events] == [
        ("MeetingScheduled", meeting["id"], 0, "M1"), ("MeetingChanged", meeting["id"], 1, "M2"),
        ("MeetingCancelled", meeting["id"], 2, "M1")]
    assert events[1]["data"]["changed_fields"] == ["starts_at"]


def test_bad_meetings_are_refused_and_change_nothing(client, pair, clock, container, propose):
    url = pair.url + "/meetings"
    good = {"starts_at": _at(clock, days=1), "duration_minutes": 30, "mode": "video"}
    cases = {
        "starts_at": {**good, "starts_at": _at(clock, hours=-1)},
        "duration_minutes": {**good, "duration_minutes": 481},
        "mode": {**good, "mode": "carrier_pigeon"},
        "time_zone": {**good, "time_zone": "Mars/Olympus_Mons"},
        "colour": {**good, "colour": "red"},
    }
    for field, body in cases.items():
        response = client.post(url, json=body, headers=pair.mentee)
        assert response.status_code == 422, (field, response.text)
        assert field in [e["path"] for e in response.json()["errors"]], response.json()
    naive = client.post(url, json={**good, "starts_at": "2026-12-05T10:00:00"}, headers=pair.mentee)
    assert naive.status_code == 422
    # Not before acceptance: 409 with the status.
    pending = propose("M3", "M4", accept=False)
    refused = client.post(pending.url + "/meetings", json=good, headers=pending.mentee)
    assert refused.status_code == 409 and refused.json()["current_status"] == "pending"
    assert client.get(url, headers=pair.mentee).json()["items"] == []
    assert published(container, types=("MeetingScheduled",)) == []


def test_a_bad_change_leaves_the_meeting_as_it_was(client, pair, clock, container):
    made = client.post(pair.url + "/meetings", headers=pair.mentee, json={
        "starts_at": _at(clock, days=2), "duration_minutes": 60, "mode": "video"}).json()
    url = f"{pair.url}/meetings/{made['id']}"
    for body in ({"starts_at": _at(clock, days=-1)}, {"duration_minutes": 600}, {"mode": None},
                 {"organiser_id": "M2"}):
        assert client.patch(url, json=body, headers=pair.mentor).status_code == 422, body
    assert client.patch(pair.url + "/meetings/no-such-meeting", json={"agenda": "x"},
                        headers=pair.mentor).status_code == 404
    clock.advance(timedelta(days=3))
    started = client.patch(url, json={"agenda": "late"}, headers=pair.mentor)
    assert started.status_code == 409
    assert client.get(url, headers=pair.mentee).json() == made
    assert len(published(container, types=("MeetingChanged", "MeetingCancelled"))) == 0
