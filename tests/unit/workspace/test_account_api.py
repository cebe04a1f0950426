"""Account deletion, support requests, erasure (canary) and the CPD export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from tests.relationships_suite import published, rows_holding

CANARY = "CANARY-7f3a"


def test_deleting_an_account_withdraws_everywhere_and_refuses_the_token(client, propose, container, clock):
    accepted = propose("M1", "M2")
    pending_as_mentee = propose("M1", "M3", accept=False)
    pending_as_mentor = propose("M4", "M1", accept=False)
    meeting = client.post(accepted.url + "/meetings", headers=accepted.mentor, json={
        "starts_at": (clock.now() + timedelta(days=3)).isoformat(), "duration_minutes": 30, "mode": "video"}).json()

    deleted = client.delete("/v1/members/me", headers=accepted.mentee)
    assert deleted.status_code == 200, deleted.text
    assert sorted(deleted.json()["withdrawn_relationships"]) == sorted(
        [accepted.id, pending_as_mentee.id, pending_as_mentor.id])

    # The token is refused from then on, deleting twice included: 403 with a clear detail.
    again = client.delete("/v1/members/me", headers=accepted.mentee)
    assert again.status_code == 403 and "deleted" in again.json()["detail"]
    assert client.get("/v1/relationships", headers=accepted.mentee).status_code == 403

    # Partners see the outcome; their own tokens still work.
    assert client.get(accepted.url, headers=accepted.mentor).json()["status"] == "withdrawn"
    assert client.get(pending_as_mentee.url, headers=pending_as_mentee.mentor).json()["status"] == "withdrawn"
    # A mentor leaving is not a mentor declining: the proposal is withdrawn, by the deleted member.
    left = client.get(pending_as_mentor.url, headers=pending_as_mentor.mentee).json()
    assert left["status"] == "withdrawn" and left["withdrawn_by"] == "M1"
    assert left["status_history"][-1]["actor"]["member_id"] == "M1"
    assert client.get(accepted.url + "/meetings", headers=accepted.mentor).json()["items"][0]["status"] == "cancelled"

    events = published(container, types=("AccountDeleted", "RelationshipWithdrawn", "ProposalWithdrawn",
                                          "ProposalRejected", "MeetingCancelled"))
    assert all(e["data"]["account_deleted"] for e in events if "Withdrawn" in e["type"])
    kinds = sorted((e["type"], e["key"]) for e in events)
    assert kinds == sorted([("AccountDeleted", "M1"), ("RelationshipWithdrawn", accepted.id),
                            ("ProposalWithdrawn", pending_as_mentee.id), ("ProposalWithdrawn", pending_as_mentor.id),
                            ("MeetingCancelled", accepted.id)])
    cancelled = next(e for e in events if e["type"] == "MeetingCancelled")
    assert cancelled["data"]["meeting_id"] == meeting["id"] and cancelled["data"]["sequence"] == 1


def test_support_requests_and_roles(client, pair, auth):
    support = auth("S1", roles=["support"])
    stranger = auth("M9")
    made = client.post("/v1/support-requests", headers=pair.mentee,
                       json={"kind": "contact_partner", "relationship_id": pair.id, "message": "Grace is silent"})
    assert made.status_code == 201, made.text
    request = made.json()
    assert client.post("/v1/support-requests", headers=pair.mentee,
                       json={"kind": "contact_partner", "message": "who?"}).status_code == 422
    assert client.post("/v1/support-requests", headers=stranger,
                       json={"kind": "other", "relationship_id": pair.id, "message": "hi"}).status_code == 404

    assert [r["id"] for r in client.get("/v1/support-requests", headers=support).json()["items"]] == [request["id"]]
    assert client.get("/v1/support-requests", headers=stranger).json()["items"] == []
    assert client.get(f"/v1/support-requests/{request['id']}", headers=stranger).status_code == 404
    own = client.post(f"/v1/support-requests/{request['id']}/resolve", headers=pair.mentee, json={"outcome": "done"})
    assert own.status_code == 403
    wrong = client.post(f"/v1/support-requests/{request['id']}/resolve", headers=support,
                        json={"outcome": "approved"})
    assert wrong.status_code == 422
    done = client.post(f"/v1/support-requests/{request['id']}/resolve", headers=support,
                       json={"outcome": "done", "note": "Called Grace"})
    assert done.status_code == 200 and done.json()["status"] == "resolved" and done.json()["resolved_by"] == "S1"
    twice = client.post(f"/v1/support-requests/{request['id']}/resolve", headers=support, json={"outcome": "done"})
    assert twice.status_code == 409

    # Support sees relationship metadata, never what members wrote.
    client.post(pair.url + "/messages", json={"body": CANARY}, headers=pair.mentee)
    client.post(pair.url + "/tools/swot", json={"strengths": [CANARY]}, headers=pair.mentee)
    meta = client.get(f"/v1/support/relationships/{pair.id}", headers=support)
    assert meta.status_code == 200 and meta.json()["messages"]["count"] == 1 and meta.json()["tools"]["swot"] == 1
    assert CANARY not in meta.text
    assert client.get(f"/v1/support/relationships/{pair.id}", headers=pair.mentee).status_code == 404
    assert client.get(pair.url + "/messages", headers=support).status_code == 404


def test_erasure_leaves_no_canary_in_the_relationships_database(client, propose, auth, container, clock):
    ada = {"Authorization": auth("M1", name=f"Ada {CANARY}", email=f"{CANARY.lower()}@example.org")["Authorization"]}
    pair = propose("M1", "M2")
    client.post(pair.url + "/messages", json={"body": f"My secret {CANARY}"}, headers=ada)
    client.post(pair.url + "/messages", json={"body": "Grace's own words"}, headers=pair.mentor)
    client.post(pair.url + "/tools/swot", json={"strengths": [CANARY]}, headers=ada)
    client.put(pair.url + "/agreement", json={"other_practicalities": CANARY}, headers=ada)
    client.put(pair.url + "/learning-outcomes", json={"outcomes": CANARY}, headers=ada)
    client.post(pair.url + "/meetings", headers=ada, json={
        "starts_at": (clock.now() + timedelta(days=1)).isoformat(), "duration_minutes": 30, "mode": "in_person",
        "location_or_link": f"{CANARY} street", "agenda": CANARY})
    asked = client.post("/v1/support-requests", headers=ada, json={"kind": "erasure", "message": f"Erase {CANARY}"})
    assert asked.status_code == 201
    container.services["relationships"].relay.drain()  # the events about Ada are sent before she is erased

    support = auth("S1", roles=["support"])
    approved = client.post(f"/v1/support-requests/{asked.json()['id']}/resolve", headers=support,
                           json={"outcome": "approved"})
    assert approved.status_code == 200, approved.text
    assert client.get("/v1/relationships", headers=ada).status_code == 403

    assert rows_holding(container, CANARY) == {}
    # Grace keeps her own words; the MemberErased event went out.
    bodies = [m["body"] for m in client.get(pair.url + "/messages", headers=pair.mentor).json()["items"]]
    assert "Grace's own words" in bodies
    assert [e["key"] for e in published(container, types=("MemberErased",))] == ["M1"]


def test_cpd_record_as_json_and_csv(client, pair, clock):
    client.post(pair.url + "/meetings", headers=pair.mentee, json={
        "starts_at": (clock.now() + timedelta(days=1)).isoformat(), "duration_minutes": 90, "mode": "video",
        "agenda": "Goals"})
    cancelled = client.post(pair.url + "/meetings", headers=pair.mentee, json={
        "starts_at": (clock.now() + timedelta(days=2)).isoformat(), "duration_minutes": 60, "mode": "video"}).json()
    client.delete(f"{pair.url}/meetings/{cancelled['id']}", headers=pair.mentor)
    client.post(pair.url + "/tools/goals", headers=pair.mentee, json={
        "goal": "Speak at a conference", "status": "achieved", "learning_outcomes": "Structuring a talk"})
    clock.advance(timedelta(days=5))
    assert client.post(pair.url + "/complete", headers=pair.mentor).status_code == 200
    noted = client.put(pair.url + "/learning-outcomes", headers=pair.mentee, json={"outcomes": "Saying no politely"})
    assert noted.status_code == 200, noted.text
    assert client.get(pair.url + "/learning-outcomes", headers=pair.mentor).json()["outcomes"] == ""  # private

    record = client.get("/v1/members/me/cpd", headers=pair.mentee).json()
    assert record["totals"] == {"meetings_held": 1, "meeting_minutes": 90, "relationships": 1, "goals": 1}
    relationship = next(a for a in record["activities"] if a["activity"] == "relationship")
    assert relationship["learning_outcomes"] == "Saying no politely" and relationship["status"] == "completed"
    goal = next(a for a in record["activities"] if a["activity"] == "goal")
    assert goal["learning_outcomes"] == "Structuring a talk" and goal["counterpart"] == "Mentor M2"
    exported = client.get("/v1/members/me/cpd?format=csv", headers=pair.mentee)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(r["activity"] for r in rows) == ["goal", "meeting", "relationship"]
    assert next(r for r in rows if r["activity"] == "meeting")["minutes"] == "90"
    # The mentor's record counts the same meeting from their side.
    assert client.get("/v1/members/me/cpd", headers=pair.mentor).json()["totals"]["meeting_minutes"] == 90


def test_partners_are_told_the_deleted_member_left_connect(client, propose, deliver, container):
    as_mentor = propose("M4", "M1", accept=False)  # M1 is the mentor of M4's pending proposal
    as_mentee = propose("M1", "M2")
    deliver()
    assert client.delete("/v1/members/me", headers=as_mentor.mentor).status_code == 200
    deliver()
    import email
    from email.policy import default
    mail = [email.message_from_bytes(p.read_bytes(), policy=default)
            for p in container.settings.mail_dir.glob("*.eml")]
    to_mentee = [m for m in mail if "m4@example.org" in str(m["To"]) and "left Connect" in str(m["Subject"])]
    to_mentor = [m for m in mail if "m2@example.org" in str(m["To"]) and "left Connect" in str(m["Subject"])]
    assert len(to_mentee) == 1 and len(to_mentor) == 1
    body = to_mentee[0].get_body(("plain",)).get_content()
    assert "Mentor M1 has left Connect" in body and "search for another mentor" in body
    assert not any("declined" in str(m["Subject"]) for m in mail)


def test_support_contacts_the_partner_on_the_members_behalf(client, pair, auth, deliver, container):
    import email
    from email.policy import default

    support = auth("S1", roles=["support"], name="Sam Support")
    deliver()  # the notifier learns both members' addresses
    made = client.post("/v1/support-requests", headers=pair.mentee,
                       json={"kind": "contact_partner", "relationship_id": pair.id, "message": "Grace is silent"})
    other = client.post("/v1/support-requests", headers=pair.mentee, json={"kind": "other", "message": "Hello"})
    request_id = made.json()["id"]

    # The team sees the partner's name and email for this request only; the member does not.
    seen = client.get(f"/v1/support-requests/{request_id}", headers=support).json()
    assert seen["partner"] == {"member_id": "M2", "name": "Mentor M2", "email": "m2@example.org", "role": "mentor"}
    assert seen["partner_messages"] == []
    assert "partner" not in client.get(f"/v1/support-requests/{request_id}", headers=pair.mentee).json()
    assert "partner" not in client.get(f"/v1/support-requests/{other.json()['id']}", headers=support).json()
    assert "m2@example.org" not in client.get("/v1/support-requests", headers=support).text

    # Only the team writes, only for an open contact_partner request.
    url = f"/v1/support-requests/{request_id}/partner-messages"
    assert client.post(url, headers=pair.mentee, json={"body": "Hi"}).status_code == 403
    assert client.post(f"/v1/support-requests/{other.json()['id']}/partner-messages", headers=support,
                       json={"body": "Hi"}).json()["type"].endswith("/not-a-contact-partner-request")
    assert client.post(url, headers=support, json={"body": ""}).status_code == 422
    sent = client.post(url, headers=support, json={"body": "Ada would like to hear from you about your next meeting."})
    assert sent.status_code == 201, sent.text
    assert sent.headers["Location"] == f"/v1/support-requests/{request_id}"
    assert (sent.json()["recipient_id"], sent.json()["author_id"]) == ("M2", "S1")
    recorded = client.get(f"/v1/support-requests/{request_id}", headers=support).json()["partner_messages"]
    assert [m["body"] for m in recorded] == ["Ada would like to hear from you about your next meeting."]
    events = published(container, types=("SupportMessageSentToPartner",))
    assert [(e["data"]["recipient_id"], e["data"]["request_id"]) for e in events] == [("M2", request_id)]

    # Resolving: the requester reads the team's note in the request and in the email.
    done = client.post(f"/v1/support-requests/{request_id}/resolve", headers=support,
                       json={"outcome": "done", "note": "I wrote to Grace; she will message you this week."})
    assert done.status_code == 200
    mine = client.get(f"/v1/support-requests/{request_id}", headers=pair.mentee).json()
    assert mine["resolution_note"] == "I wrote to Grace; she will message you this week."
    assert client.post(url, headers=support, json={"body": "Again"}).status_code == 409
    deliver()

    mail = [email.message_from_bytes(p.read_bytes(), policy=default) for p in container.settings.mail_dir.glob("*.eml")]

    def to(address, subject_part):
        return [m for m in mail if address in str(m["To"]) and subject_part in str(m["Subject"])]

    (to_partner,) = to("m2@example.org", "customer service")
    text = to_partner.get_body(("plain",)).get_content()
    assert "on behalf of Mentee M1" in text and "hear from you about your next meeting" in text
    (resolved,) = to("m1@example.org", "has been completed")
    assert "she will message you this week" in resolved.get_body(("plain",)).get_content()
    # The customer service mailbox hears of each new request.
    new = to("support@example.org", "New support request")
    assert sorted(str(m["Subject"]) for m in new) == ["New support request: Contact the mentoring partner",
                                                      "New support request: Other question"]
    assert "Grace is silent" not in str(new[0])
    # The new route is in the published API document with its answer's model.
    document = client.get("/openapi.json").json()
    route = document["paths"]["/v1/support-requests/{request_id}/partner-messages"]["post"]
    assert route["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/PartnerMessageOut")
    assert "recipient_id" in document["components"]["schemas"]["PartnerMessageOut"]["properties"]
