"""Every refusal of the relationships and matching APIs, as the client sees it: status, type,
title, detail, extension members, field paths and headers of the problem document.

Use cases raise domain errors and one place (`connect.problems`) turns them into these
documents; this pins what that place must produce for each refusal, end to end."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

BASE = "https://connect.example.org/problems/"


def problem(response: Any, status: int, type_: str, title: str, detail: str | None = None,
            **extensions: Any) -> dict[str, Any]:
    """The problem document, checked whole: nothing but the standard members and `extensions`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    expected = {"type": BASE + type_, "title": title, "status": status, "instance": body.get("instance"),
                **extensions}
    if detail is not None:
        expected["detail"] = detail
    assert {k: v for k, v in body.items() if detail is not None or k != "detail"} == expected, body
    return body


def test_proposal_refusals(client, auth, propose, pair):
    ada = pair.mentee
    self_proposal = client.post("/v1/proposals", headers=ada, json={
        "mentor_id": "M1", "message": "Hi", "duration_months": 6})
    problem(self_proposal, 422, "validation", "Validation failed", "mentor_id: you cannot send a proposal to yourself",
            errors=[{"path": "mentor_id", "message": "you cannot send a proposal to yourself", "type": "value_error"}])

    unknown = client.post("/v1/proposals", headers=ada, json={"mentor_id": "M77", "message": "Hi",
                                                              "duration_months": 6})
    problem(unknown, 409, "mentor-unavailable", "Conflict",
            "Member M77 is not a mentor on Connect (no mentor profile is known).", mentor_id="M77", why="not_a_mentor")

    pending = propose("M5", "M6", accept=False)
    twice = client.post("/v1/proposals", headers=pending.mentee, json={"mentor_id": "M6", "message": "Again",
                                                                       "duration_months": 6})
    problem(twice, 409, "relationship-exists", "Conflict",
            f"There is already an open (pending) relationship {pending.id} between mentor M6 and mentee M5.",
            relationship_id=pending.id, relationship_status="pending")

    wrong_party = client.post(pending.url + "/accept", headers=pending.mentee)
    problem(wrong_party, 409, "transition-not-allowed", "Conflict",
            "The relationship is pending; as the mentee you cannot accept it now.",
            action="accept", current_status="pending")
    expected = client.post(pair.url + "/withdraw", headers=ada, json={"expected_status": "pending"})
    problem(expected, 409, "transition-not-allowed", "Conflict", "The relationship is accepted now, not pending.",
            action="withdraw", current_status="accepted")

    stranger = client.get(pending.url, headers=auth("M9"))
    problem(stranger, 404, "not-found", "Not found", f"No relationship {pending.id} of yours.")

    edit = pending.url + "/proposal"
    problem(client.patch(edit, headers=pending.mentee, json={"goals": "More"}), 428, "precondition-required",
            "Precondition required", "Send If-Match with the ETag of the proposal you are editing.")
    current = client.get(pending.url, headers=pending.mentee).headers["etag"]
    stale = client.patch(edit, headers={**pending.mentee, "If-Match": '"old.0"'}, json={"goals": "More"})
    problem(stale, 412, "stale-etag", "Precondition failed",
            "The proposal changed since you read it; reload it and edit again.", etag=current)
    assert stale.headers["etag"] == current
    nulls = client.patch(edit, headers={**pending.mentee, "If-Match": current}, json={"goals": None})
    problem(nulls, 422, "validation", "Validation failed", "goals: must not be null",
            errors=[{"path": "goals", "message": "must not be null", "type": "value_error"}])
    not_editable = client.patch(pair.url + "/proposal", headers={**ada, "If-Match": "*"}, json={"goals": "More"})
    problem(not_editable, 409, "transition-not-allowed", "Conflict",
            "The relationship is accepted; as the mentee you cannot edit it now.",
            action="edit", current_status="accepted")

    bad_status = client.get("/v1/relationships?status=bogus", headers=ada)
    message = "unknown status 'bogus'; one of pending, accepted, rejected, withdrawn, expired, completed"
    problem(bad_status, 422, "validation", "Validation failed", f"query.status: {message}",
            errors=[{"path": "query.status", "message": message, "type": "value_error"}])
    bad_cursor = client.get("/v1/relationships?cursor=nonsense", headers=ada)
    reason = ("is not a cursor Connect issued to you for this listing (start the listing again without a "
              "cursor)")
    problem(bad_cursor, 400, "invalid-cursor", "Bad request", f"query.cursor: {reason}",
            errors=[{"path": "query.cursor", "message": reason, "type": "invalid_cursor"}])


def test_workspace_refusals(client, pair, propose, clock):
    pending = propose("M5", "M6", accept=False)
    closed = client.post(pending.url + "/tools/swot", headers=pending.mentee, json={})
    problem(closed, 409, "workspace-not-open", "Conflict",
            "The first-conversation tools are open once the relationship is accepted; it is pending.",
            current_status="pending")

    meeting = client.post(pair.url + "/meetings", headers=pair.mentee, json={
        "starts_at": (clock.now() + timedelta(days=2)).isoformat(), "duration_minutes": 30, "mode": "video"}).json()
    meeting_url = f"{pair.url}/meetings/{meeting['id']}"
    assert client.delete(meeting_url, headers=pair.mentor).status_code == 200
    problem(client.delete(meeting_url, headers=pair.mentor), 409, "conflict", "Conflict",
            "This meeting was cancelled.", meeting_status="cancelled")
    problem(client.get(pair.url + "/meetings/nope", headers=pair.mentor), 404, "not-found", "Not found",
            "No meeting nope in this relationship.")
    past = client.post(pair.url + "/meetings", headers=pair.mentee, json={
        "starts_at": (clock.now() - timedelta(days=1)).isoformat(), "duration_minutes": 30, "mode": "video"})
    problem(past, 422, "validation", "Validation failed", "starts_at: must be in the future",
            errors=[{"path": "starts_at", "message": "must be in the future", "type": "value_error"}])

    problem(client.get(pair.url + "/agreement", headers=pair.mentee), 404, "not-found", "Not found",
            "No agreement has been recorded yet.")
    problem(client.put(pair.url + "/agreement", headers={**pair.mentee, "If-Match": '"x.1"'}, json={}), 412,
            "stale-etag", "Precondition failed", "There is no agreement record yet; save it without If-Match.")

    tool = client.post(pair.url + "/tools/goals", headers=pair.mentee, json={"goal": "Speak"}).json()
    tool_url = f"{pair.url}/tools/goals/{tool['id']}"
    problem(client.put(tool_url, headers=pair.mentor, json={"goal": "Talk"}), 428, "precondition-required",
            "Precondition required", "Send If-Match with the ETag of the version you are amending.")
    stale = client.put(tool_url, headers={**pair.mentor, "If-Match": '"old.0"'}, json={"goal": "Talk"})
    problem(stale, 412, "stale-etag", "Precondition failed",
            "Someone saved this tool since you read it; reload it and amend again.", etag=tool["etag"])
    assert stale.headers["etag"] == tool["etag"]
    unknown_field = client.post(pair.url + "/tools/swot", headers=pair.mentee, json={"strengths": [], "mood": "ok"})
    body = problem(unknown_field, 422, "validation", "Validation failed",
                   errors=[{"path": "mood", "message": "Extra inputs are not permitted", "type": "extra_forbidden"}])
    assert body["detail"] == "mood: Extra inputs are not permitted"

    withdrawn = propose("M7", "M8")
    assert client.post(withdrawn.url + "/withdraw", headers=withdrawn.mentee).status_code == 200
    problem(client.post(withdrawn.url + "/messages", headers=withdrawn.mentor, json={"body": "Hello?"}), 409,
            "workspace-not-open", "Conflict", "The relationship is withdrawn; messages can no longer be sent.",
            current_status="withdrawn")
    # A refused nudge has its own type and says why and from when (the relationship is open).
    allowed_from = (clock.now() + timedelta(days=14)).isoformat().replace("+00:00", "Z")
    problem(client.post(pair.url + "/nudge", headers=pair.mentee), 409, "nudge-not-allowed", "Conflict",
            f"Your partner was active on {clock.now().date().isoformat()}; give them 14 days before a nudge.",
            why="partner_active", allowed_from=allowed_from)
    clock.advance(timedelta(days=15))
    assert client.post(pair.url + "/nudge", headers=pair.mentee).status_code == 202
    problem(client.post(pair.url + "/nudge", headers=pair.mentee), 409, "nudge-not-allowed", "Conflict",
            f"You nudged your partner on {clock.now().date().isoformat()}; at most one nudge every 7 days.",
            why="nudged_recently", allowed_from=(clock.now() + timedelta(days=7)).isoformat().replace("+00:00", "Z"))
    problem(client.post(withdrawn.url + "/nudge", headers=withdrawn.mentee), 409, "nudge-not-allowed", "Conflict",
            "Only a partner in an accepted relationship can be nudged; it is withdrawn.",
            why="relationship_not_accepted", current_status="withdrawn")


def test_account_refusals(client, pair, auth):
    behalf = client.post("/v1/support-requests", headers=pair.mentee,
                         json={"kind": "other", "message": "Help", "on_behalf_of": "M2"})
    problem(behalf, 403, "support-only", "Forbidden",
            "Only the customer service team files requests on a member's behalf.")
    no_message = client.post("/v1/support-requests", headers=pair.mentee, json={"kind": "contact_partner"})
    problem(no_message, 422, "validation", "Validation failed",
            "relationship_id: is required to contact a partner on your behalf; message: must say what you need",
            errors=[{"path": "relationship_id", "message": "is required to contact a partner on your behalf",
                     "type": "value_error"},
                    {"path": "message", "message": "must say what you need", "type": "value_error"}])
    filed = client.post("/v1/support-requests", headers=pair.mentee, json={"kind": "other", "message": "Help"}).json()
    problem(client.post(f"/v1/support-requests/{filed['id']}/resolve", headers=pair.mentee,
                        json={"outcome": "done"}), 403, "support-only", "Forbidden",
            "Only the customer service team resolves support requests.")
    problem(client.get(f"/v1/support-requests/{filed['id']}", headers=pair.mentor), 404, "not-found", "Not found",
            f"No support request {filed['id']} of yours.")
    support = auth("S1", roles=["support"])
    wrong_outcome = client.post(f"/v1/support-requests/{filed['id']}/resolve", headers=support,
                                json={"outcome": "approved"})
    problem(wrong_outcome, 422, "validation", "Validation failed",
            "outcome: only an erasure request is approved; use done or declined",
            errors=[{"path": "outcome", "message": "only an erasure request is approved; use done or declined",
                     "type": "value_error"}])
    assert client.post(f"/v1/support-requests/{filed['id']}/resolve", headers=support,
                       json={"outcome": "done"}).status_code == 200
    problem(client.post(f"/v1/support-requests/{filed['id']}/resolve", headers=support, json={"outcome": "done"}),
            409, "conflict", "Conflict", "This support request is already resolved.", request_status="resolved")
    problem(client.get(f"/v1/support/relationships/{pair.id}", headers=pair.mentee), 404, "not-found", "Not found",
            f"No relationship {pair.id}.")

    assert client.delete("/v1/members/me", headers=pair.mentee).status_code == 200
    problem(client.get("/v1/relationships", headers=pair.mentee), 403, "account-deleted", "Forbidden",
            "This account was deleted; it can no longer use Connect. Contact the customer service team to restore "
            "it or to have your personal data erased.")


def test_matching_refusals(client, auth, deliver):
    ada = auth("M1")
    problem(client.get("/v1/members/me/mentor-profile", headers=ada), 404, "not-found", "Not found",
            "You have no mentor profile yet.")
    problem(client.put("/v1/members/me/mentor-profile/availability", headers=ada, json={"available": False}), 404,
            "not-found", "Not found", "You have no mentor profile yet; create one first.")
    invalid = client.put("/v1/members/me/mentor-profile", headers=ada, json={"headline": "H", "expertise": ["nope"]})
    message = "'nope' is not a known expertise id (see GET /v1/taxonomy)"
    problem(invalid, 422, "validation", "Validation failed", f"expertise.0: {message}",
            errors=[{"path": "expertise.0", "message": message, "type": "value_error"}])
    search = client.post("/v1/mentors/search", headers=ada, json={"criteria": {"colour": ["blue"]}})
    message = ("unknown criterion; one of career_stage, country, expertise, interaction_modes, interests, languages, "
               "qualifications, region, sectors, years_experience")
    problem(search, 422, "validation", "Validation failed", f"criteria.colour: {message}",
            errors=[{"path": "criteria.colour", "message": message, "type": "value_error"}])
    problem(client.get("/v1/members/M2/connection-facts", headers=ada), 403, "service-only", "Forbidden",
            "Only the member themself or a Connect service may read these facts.")
    problem(client.get("/v1/mentors/M404", headers=ada), 404, "not-found", "Not found", "No such mentor.")
