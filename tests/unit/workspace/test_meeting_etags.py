"""Meetings are edited by both parties: each carries an ETag (its calendar SEQUENCE), a change or
a cancellation may name the version it is based on (412 when the partner changed it first), and a
read with If-None-Match is 304 while current."""

from __future__ import annotations

from datetime import timedelta


def test_meeting_etag_if_match_and_if_none_match(client, pair, clock):
    start = (clock.now() + timedelta(days=3)).isoformat()
    made = client.post(pair.url + "/meetings", headers=pair.mentee,
                       json={"starts_at": start, "duration_minutes": 30, "mode": "video"})
    assert made.status_code == 201, made.text
    url, tag = made.headers["Location"], made.headers["ETag"]
    assert tag == made.json()["etag"]

    read = client.get(url, headers=pair.mentor)
    assert read.headers["ETag"] == tag
    unchanged = client.get(url, headers={**pair.mentor, "If-None-Match": tag})
    assert unchanged.status_code == 304 and unchanged.content == b""

    moved = client.patch(url, headers={**pair.mentor, "If-Match": tag}, json={"duration_minutes": 45})
    assert moved.status_code == 200, moved.text
    new_tag = moved.headers["ETag"]
    assert new_tag != tag and moved.json()["sequence"] == made.json()["sequence"] + 1

    # The mentee, still holding the first version, is told the mentor changed it first.
    stale = client.patch(url, headers={**pair.mentee, "If-Match": tag}, json={"agenda": "SWOT"})
    assert stale.status_code == 412 and stale.headers["ETag"] == new_tag
    assert client.delete(url, headers={**pair.mentee, "If-Match": tag}).status_code == 412
    assert client.get(url, headers=pair.mentee).json()["status"] == "scheduled"

    cancelled = client.delete(url, headers={**pair.mentee, "If-Match": new_tag})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert client.get(url, headers={**pair.mentee, "If-None-Match": new_tag}).status_code == 200
