"""Profiles are versioned like every resource a member edits: an ETag on every answer, If-Match
honoured on their writes (412 when stale; without it the last write still wins, as before), and
If-None-Match on reads answered 304 while current."""

from __future__ import annotations

from tests.unit.matching.test_api import mentor_body


def test_mentor_profile_etag_if_match_and_if_none_match(client, auth):
    me = auth("T1", name="Tess")
    created = client.put("/v1/members/me/mentor-profile", json=mentor_body(), headers=me)
    assert created.status_code == 200, created.text
    tag = created.headers["ETag"]
    assert tag == created.json()["etag"] and tag.startswith('"')

    read = client.get("/v1/members/me/mentor-profile", headers=me)
    assert read.headers["ETag"] == tag
    unchanged = client.get("/v1/members/me/mentor-profile", headers={**me, "If-None-Match": tag})
    assert unchanged.status_code == 304 and unchanged.content == b"" and unchanged.headers["ETag"] == tag
    assert client.get("/v1/members/me/mentor-profile", headers={**me, "If-None-Match": '"other"'}).status_code == 200

    # A write based on the current version goes through and changes the tag.
    edited = client.put("/v1/members/me/mentor-profile", json=mentor_body(headline="Claims lead"),
                        headers={**me, "If-Match": tag})
    assert edited.status_code == 200, edited.text
    new_tag = edited.headers["ETag"]
    assert new_tag != tag

    # One based on the old version is refused, names the current one and changes nothing.
    stale = client.put("/v1/members/me/mentor-profile", json=mentor_body(headline="Lost update"),
                       headers={**me, "If-Match": tag})
    assert stale.status_code == 412 and stale.headers["content-type"] == "application/problem+json"
    assert stale.headers["ETag"] == new_tag and stale.json()["type"].endswith("/stale-etag")
    assert client.get("/v1/members/me/mentor-profile", headers=me).json()["headline"] == "Claims lead"

    # Availability is part of the representation: its switch takes If-Match and moves the tag.
    refused = client.put("/v1/members/me/mentor-profile/availability", json={"available": False},
                         headers={**me, "If-Match": tag})
    assert refused.status_code == 412
    switched = client.put("/v1/members/me/mentor-profile/availability", json={"available": False},
                          headers={**me, "If-Match": new_tag})
    assert switched.status_code == 200 and switched.headers["ETag"] not in (tag, new_tag)
    assert switched.json()["availability_message"] == "You are currently unavailable to mentees"

    # Without If-Match the last write wins, as it always did.
    assert client.put("/v1/members/me/mentor-profile", json=mentor_body(), headers=me).status_code == 200


def test_mentee_profile_etag_and_if_match_on_a_first_save(client, auth):
    me = auth("T2")
    body = {"goals": "Move into claims", "areas_sought": ["claims"]}
    # Nothing saved yet: no version can match.
    assert client.put("/v1/members/me/mentee-profile", json=body, headers={**me, "If-Match": '"x"'}).status_code == 412
    created = client.put("/v1/members/me/mentee-profile", json=body, headers=me)
    tag = created.headers["ETag"]
    assert client.get("/v1/members/me/mentee-profile", headers={**me, "If-None-Match": f'W/{tag}'}).status_code == 304
    changed = client.put("/v1/members/me/mentee-profile", json={**body, "goals": "Lead a claims team"},
                         headers={**me, "If-Match": tag})
    assert changed.status_code == 200 and changed.headers["ETag"] != tag
    assert client.put("/v1/members/me/mentee-profile", json=body, headers={**me, "If-Match": tag}).status_code == 412
