"""The relationships HTTP API, on both databases: lifecycle, rules, views, bad input."""

from __future__ import annotations

from datetime import timedelta

from services.relationships.adapters import orm
from tests.relationships_suite import row_count
from tests.unit.relationships.conftest import proposal_body, relationship_events


def test_proposal_lifecycle_views_and_events(client, auth, container, mentor, deliver, clock):
    mentor("M2", name="Grace Hopper")
    mentee = auth("M1", name="Ada Lovelace")
    created = client.post("/v1/proposals", json=proposal_body("M2"), headers=mentee)
    assert created.status_code == 201, created.text
    rel = created.json()
    assert rel["status"] == "pending" and rel["my_role"] == "mentee"
    assert rel["counterpart"] == {"member_id": "M2", "name": "Grace Hopper"}
    assert rel["actions"] == ["withdraw", "edit"]
    assert created.headers["location"] == f"/v1/relationships/{rel['id']}"

    # The mentor sees it with the mentee's name (from the mentee's own token) and mentor actions.
    grace = auth("M2", name="Grace Hopper")
    as_mentor = client.get("/v1/relationships", headers=grace).json()
    assert as_mentor["items"][0]["counterpart"] == {"member_id": "M1", "name": "Ada Lovelace"}
    assert as_mentor["items"][0]["actions"] == ["accept", "reject"] and as_mentor["next_cursor"] is None

    # Edit: If-Match required, stale refused, current accepted and versioned.
    url = f"/v1/relationships/{rel['id']}"
    assert client.patch(url + "/proposal", json={"goals": "x"}, headers=mentee).status_code == 428
    etag = client.get(url, headers=mentee).headers["etag"]
    edited = client.patch(url + "/proposal", json={"goals": "Chair a panel", "duration_months": 9},
                          headers={**mentee, "If-Match": etag})
    assert edited.status_code == 200, edited.text
    assert edited.json()["proposal"]["version"] == 2 and edited.headers["etag"] != etag
    stale = client.patch(url + "/proposal", json={"goals": "again"}, headers={**mentee, "If-Match": etag})
    assert stale.status_code == 412 and stale.headers["content-type"] == "application/problem+json"
    # The mentor may not edit; the move is refused with the status.
    refused = client.patch(url + "/proposal", json={"goals": "mine"},
                           headers={**grace, "If-Match": edited.headers["etag"]})
    assert refused.status_code == 409 and refused.json()["current_status"] == "pending"

    # Wrong party, then the right one.
    wrong = client.post(url + "/accept", headers=mentee)
    assert wrong.status_code == 409 and wrong.json()["current_status"] == "pending"
    clock.advance(timedelta(days=2))
    accepted = client.post(url + "/accept", json={"reason": "Happy to"}, headers=grace)
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    assert accepted.json()["planned_end"] == "2027-09-03T09:00:00Z"  # 9 months after acceptance
    assert client.post(url + "/reject", headers=grace).json()["current_status"] == "accepted"
    completed = client.post(url + "/complete", headers=mentee)
    assert completed.status_code == 200 and completed.json()["actions"] == []

    details = client.get(url, headers=mentee).json()
    assert [h["to_status"] for h in details["status_history"]] == ["pending", "accepted", "completed"]
    assert details["status_history"][1]["actor"] == {"member_id": "M2", "name": "Grace Hopper"}
    assert details["status_history"][1]["reason"] == "Happy to"
    assert [v["version"] for v in details["proposal_history"]] == [1, 2]
    assert details["proposal_history"][0]["goals"] == "Speak at a conference"
    assert [e["type"] for e in relationship_events(container, rel["id"])] == [
        "ProposalSent", "ProposalEdited", "ProposalAccepted", "RelationshipCompleted"]

    # Strangers learn nothing.
    assert client.get(url, headers=auth("M9")).status_code == 404
    assert client.post(url + "/withdraw", headers=auth("M9")).status_code == 404
    assert client.get("/v1/relationships/nope", headers=mentee).status_code == 404


def test_proposal_rules(client, auth, container, mentor, set_availability):
    mentor("M2")
    mentee = auth("M1")
    to_self = client.post("/v1/proposals", json=proposal_body("M1"), headers=mentee)
    assert to_self.status_code == 422 and to_self.json()["errors"][0]["path"] == "mentor_id"
    for bad, path in [({"duration_months": 13}, "duration_months"), ({"duration_months": 0}, "duration_months"),
                      ({"message": "x" * 5001}, "message"), ({"colour": "red"}, "colour"),
                      ({"interaction_modes": ["telepathy"]}, "interaction_modes.0")]:
        answer = client.post("/v1/proposals", json=proposal_body("M2", **bad), headers=mentee)
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.json()["errors"][0]["path"] == path
    unknown = client.post("/v1/proposals", json=proposal_body("M404"), headers=mentee)
    assert unknown.status_code == 409 and unknown.json()["why"] == "not_a_mentor"
    client.get("/v1/relationships", headers=auth("M3"))  # M3 is known by token, but has no mentor profile
    assert client.post("/v1/proposals", json=proposal_body("M3"), headers=mentee).json()["why"] == "not_a_mentor"
    set_availability("M2", False)
    off = client.post("/v1/proposals", json=proposal_body("M2"), headers=mentee)
    assert off.status_code == 409 and "unavailable" in off.json()["detail"]
    set_availability("M2", True)
    first = client.post("/v1/proposals", json=proposal_body("M2"), headers=mentee).json()
    again = client.post("/v1/proposals", json=proposal_body("M2"), headers=mentee)
    assert again.status_code == 409 and again.json()["relationship_id"] == first["id"]
    assert row_count(container, orm.relationships) == 1
    # A mentee may have several mentors; a mentor any number of mentees.
    mentor("M5")
    assert client.post("/v1/proposals", json=proposal_body("M5"), headers=mentee).status_code == 201
    assert client.post("/v1/proposals", json=proposal_body("M2"), headers=auth("M6")).status_code == 201
    assert client.post(f"/v1/relationships/{first['id']}/accept", headers=auth("M2")).status_code == 200
    # Nothing refused left a trace.
    assert row_count(container, orm.relationships) == 3
    assert len(relationship_events(container)) == 4


def test_withdraw_reopen_and_expected_status(client, auth, container, mentor):
    mentor("M2")
    mentee, mentor_h = auth("M1"), auth("M2")
    rel = client.post("/v1/proposals", json=proposal_body("M2"), headers=mentee).json()
    url = f"/v1/relationships/{rel['id']}"
    assert client.post(url + "/accept", headers=mentor_h).status_code == 200
    # The mentee meant to withdraw the *proposal*; the mentor had accepted meanwhile.
    late = client.post(url + "/withdraw", json={"expected_status": "pending"}, headers=mentee)
    assert late.status_code == 409 and late.json()["current_status"] == "accepted"
    gone = client.post(url + "/withdraw", json={"reason": "Changed jobs"}, headers=mentor_h)
    assert gone.json()["status"] == "withdrawn" and gone.json()["actions"] == ["reopen"]
    assert client.get(url, headers=mentee).json()["actions"] == []
    assert client.post(url + "/reopen", headers=mentee).status_code == 409
    # While the pair has another open relationship, reopening would make two.
    reopened = client.post(url + "/reopen", headers=mentor_h)
    assert reopened.status_code == 200 and reopened.json()["status"] == "pending"
    types = [e["type"] for e in relationship_events(container, rel["id"])]
    assert types == ["ProposalSent", "ProposalAccepted", "RelationshipWithdrawn", "ProposalReopened"]
    assert client.post(url + "/withdraw", headers=mentee).json()["status"] == "withdrawn"
    other = client.post("/v1/proposals", json=proposal_body("M2"), headers=mentee).json()
    blocked = client.post(url + "/reopen", headers=mentee)
    assert blocked.status_code == 409 and blocked.json()["relationship_id"] == other["id"]


def test_listing_filters_and_cursor(client, auth, container, mentor, clock):
    for n in range(5):
        mentor(f"T{n}")
    mentee = auth("M1")
    ids = []
    for n in range(5):
        ids.append(client.post("/v1/proposals", json=proposal_body(f"T{n}"), headers=mentee).json()["id"])
        clock.advance(timedelta(minutes=1))
    client.post(f"/v1/relationships/{ids[0]}/accept", headers=auth("T0"))
    page = client.get("/v1/relationships?limit=2", headers=mentee).json()
    seen = [i["id"] for i in page["items"]]
    while page["next_cursor"]:
        page = client.get(f"/v1/relationships?limit=2&cursor={page['next_cursor']}", headers=mentee).json()
        seen += [i["id"] for i in page["items"]]
    assert seen == [ids[0], ids[4], ids[3], ids[2], ids[1]]
    accepted = client.get("/v1/relationships?status=accepted", headers=mentee).json()["items"]
    assert [i["id"] for i in accepted] == [ids[0]]
    assert client.get("/v1/relationships?role=mentor", headers=mentee).json()["items"] == []
    assert client.get("/v1/relationships?status=bogus", headers=mentee).status_code == 422
    assert client.get("/v1/relationships?cursor=zzz", headers=mentee).status_code == 400  # tests/security


def test_member_projection_is_idempotent_and_follows_account_deletion(client, auth, container, mentor, deliver):
    from connect.events import OutgoingMessage
    from schemas.events import AccountDeleted, MEMBERS_TOPIC
    from tests.relationships_suite import publish

    mentor("M2")
    mentor("M2")  # the same events again (at-least-once delivery): still one mentor row, same facts
    assert row_count(container, orm.members) == 1
    # A type this service does not know, and one it ignores, are skipped without harm.
    container.transport.publisher().publish([OutgoingMessage(MEMBERS_TOPIC, "M2", (
        b'{"event_id": "00000000-0000-0000-0000-000000000001", "type": "SomethingNew", "version": 1, '
        b'"occurred_at": "2026-12-01T09:00:00Z", "producer": "matching", "key": "M2", "data": {}}'))])
    deliver({"projector"})
    assert client.post("/v1/proposals", json=proposal_body("M2", areas=["a" * 101]),
                       headers=auth("M1")).json()["errors"][0]["path"] == "areas.0"
    publish(container, AccountDeleted(member_id="M2"))
    deliver({"projector"})
    gone = client.post("/v1/proposals", json=proposal_body("M2"), headers=auth("M1"))
    assert gone.status_code == 409 and gone.json()["why"] == "inactive"


def test_a_mentee_reopening_meets_the_same_mentor_checks_as_a_new_proposal(client, auth, mentor, set_availability):
    mentor("M2")
    rel = client.post("/v1/proposals", json=proposal_body("M2"), headers=auth("M1")).json()
    url = f"/v1/relationships/{rel['id']}"
    assert client.post(url + "/withdraw", json={"reason": "Too busy"}, headers=auth("M1")).status_code == 200
    set_availability("M2", False)
    refused = client.post(url + "/reopen", headers=auth("M1"))
    assert refused.status_code == 409 and refused.json()["why"] == "unavailable"
    assert client.get(url, headers=auth("M1")).json()["status"] == "withdrawn"
    set_availability("M2", True)
    assert client.post(url + "/reopen", headers=auth("M1")).json()["status"] == "pending"
