"""What list screens show without a call per row: each relationship's proposal summary and last
activity, and on a mentor's profile page whether I am already in touch with them and how."""

from __future__ import annotations

from datetime import timedelta

from services.relationships.proposals.domain import SUMMARY_CHARS, first_line


def test_the_summary_is_the_first_line_cut_at_a_word():
    assert first_line("\n  Would you mentor me?\nI work in claims.") == "Would you mentor me?"
    assert first_line("") == ""
    long = "word " * 60
    cut = first_line(long)
    assert len(cut) <= SUMMARY_CHARS and cut.endswith("\u2026") and not cut[:-1].endswith(" ")
    assert cut[:-1] == ("word " * 27).strip()


def test_lists_carry_the_proposal_summary_and_the_last_activity(client, propose, clock):
    pair = propose(accept=False)
    edit_etag = client.get(pair.url, headers=pair.mentee).headers["ETag"]
    edited = client.patch(pair.url + "/proposal", headers={**pair.mentee, "If-Match": edit_etag},
                          json={"message": "Could you help me speak at conferences?\nI am shy."})
    assert edited.status_code == 200, edited.text
    assert client.post(pair.url + "/accept", headers=pair.mentor).status_code == 200
    listed = client.get("/v1/relationships", headers=pair.mentor).json()["items"][0]
    details = client.get(pair.url, headers=pair.mentor).json()
    assert listed["proposal_summary"] == "Could you help me speak at conferences?"
    assert listed["last_activity_at"] == details["updated_at"]

    clock.advance(timedelta(hours=3))
    assert client.post(pair.url + "/messages", json={"body": "Hello"}, headers=pair.mentee).status_code == 201
    later = clock.now().isoformat().replace("+00:00", "Z")
    for url in ("/v1/relationships", "/v1/dashboard"):
        item = client.get(url, headers=pair.mentor).json()["items"][0]
        assert item["last_activity_at"] == later and item["updated_at"] == details["updated_at"], url
        assert item["proposal_summary"] == listed["proposal_summary"], url
    one = client.get(pair.url + "/dashboard", headers=pair.mentee).json()
    assert one["last_activity_at"] == later and one["proposal_summary"] == listed["proposal_summary"]


def test_a_mentors_page_says_whether_i_am_in_touch_and_how(client, auth, propose, deliver):
    mentor = auth("M2", name="Mentor M2")
    profile = {"headline": "Claims lead", "expertise": ["claims"], "location": {"country": "GB"}}
    assert client.put("/v1/members/me/mentor-profile", json=profile, headers=mentor).status_code == 200
    deliver()
    assert client.get("/v1/mentors/M2", headers=auth("M1")).json()["relationship"] is None

    pair = propose(accept=False)
    deliver()
    page = client.get("/v1/mentors/M2", headers=pair.mentee).json()
    assert page["relationship"] == {"relationship_id": pair.id, "status": "pending", "my_role": "mentee"}
    assert client.get("/v1/mentors/M2", headers=auth("M3")).json()["relationship"] is None

    assert client.post(pair.url + "/accept", headers=pair.mentor).status_code == 200
    deliver()
    assert client.get("/v1/mentors/M2", headers=pair.mentee).json()["relationship"]["status"] == "accepted"
    assert client.post(pair.url + "/withdraw", headers=pair.mentee).status_code == 200
    deliver()
    assert client.get("/v1/mentors/M2", headers=pair.mentee).json()["relationship"] is None
