"""SWOT / G-STAR / Goals tools and the agreement record: open once accepted, versions, ETags, limits."""

from __future__ import annotations

from datetime import timedelta

from connect.etags import entity_tag
from tests.relationships_suite import published


def test_tools_are_versioned_and_guarded_by_etags(client, pair, container):
    swot = {"strengths": ["Clear writer"], "weaknesses": ["Public speaking"], "opportunities": [], "threats": []}
    created = client.post(pair.url + "/tools/swot", json=swot, headers=pair.mentee)
    assert created.status_code == 201, created.text
    tool = created.json()
    assert tool["version"] == 1 and tool["content"]["strengths"] == ["Clear writer"] and tool["author_id"] == "M1"
    tool_url = f"{pair.url}/tools/swot/{tool['id']}"
    assert created.headers["location"] == tool_url and created.headers["etag"] == tool["etag"]

    # The mentor amends with the ETag; the mentee's stale write is refused; a missing If-Match too.
    amended = client.put(tool_url, json={**swot, "opportunities": ["Chair the regional panel"]},
                         headers={**pair.mentor, "If-Match": tool["etag"]})
    assert amended.status_code == 200, amended.text
    assert amended.json()["version"] == 2 and amended.headers["etag"] != tool["etag"]
    stale = client.put(tool_url, json={**swot, "threats": ["Time"]}, headers={**pair.mentee, "If-Match": tool["etag"]})
    assert stale.status_code == 412 and stale.json()["etag"] == amended.headers["etag"]
    assert client.put(tool_url, json=swot, headers=pair.mentee).status_code == 428

    # Both read every version, with author and time.
    read = client.get(tool_url, headers=pair.mentee).json()
    assert [(v["version"], v["author_id"]) for v in read["versions"]] == [(1, "M1"), (2, "M2")]
    assert read["versions"][0]["content"]["opportunities"] == [] and read["content"]["opportunities"]
    listed = client.get(pair.url + "/tools/swot", headers=pair.mentor).json()
    assert [t["id"] for t in listed["items"]] == [tool["id"]]
    assert client.get(pair.url + "/tools/gstar", headers=pair.mentor).json()["items"] == []

    saved = published(container, types=("ToolSaved",))
    assert [(e["data"]["tool_id"], e["data"]["version"], e["data"]["actor_id"]) for e in saved] == [
        (tool["id"], 1, "M1"), (tool["id"], 2, "M2")]
    assert "strengths" not in saved[0]["data"]  # tool contents never travel in events


def test_goals_gstar_and_agreement(client, pair):
    goal = client.post(pair.url + "/tools/goals", headers=pair.mentee, json={
        "goal": "Speak at a conference", "tasks": ["Draft abstract"], "success_criteria": "Accepted talk",
        "target_date": "2027-06-30", "status": "in_progress"})
    assert goal.status_code == 201, goal.text
    assert goal.json()["content"]["target_date"] == "2027-06-30"
    gstar = client.post(pair.url + "/tools/gstar", headers=pair.mentor, json={"goals": "Visibility",
                                                                              "situation": "New role"})
    assert gstar.status_code == 201 and gstar.json()["content"]["results"] == ""

    assert client.get(pair.url + "/agreement", headers=pair.mentee).status_code == 404
    first = client.put(pair.url + "/agreement", headers=pair.mentee, json={
        "contact_methods": "Email, then video", "meeting_frequency": "Monthly", "arranges_meetings": "mentee"})
    assert first.status_code == 201, first.text
    # A second save needs the ETag, like any tool.
    assert client.put(pair.url + "/agreement", headers=pair.mentor, json={"meeting_frequency": "Fortnightly"}
                      ).status_code == 428
    second = client.put(pair.url + "/agreement", headers={**pair.mentor, "If-Match": first.headers["etag"]},
                        json={"contact_methods": "Email, then video", "meeting_frequency": "Fortnightly",
                              "arranges_meetings": "both"})
    assert second.status_code == 200 and second.json()["version"] == 2

    talk = client.get(pair.url + "/first-conversation", headers=pair.mentor).json()
    assert talk["agreement"]["content"]["meeting_frequency"] == "Fortnightly"
    assert talk["tools"] == {"swot": 0, "gstar": 1, "goals": 1}
    assert "The proposal names Raising profile: which matters most right now?" in talk["ice_breakers"]
    assert not any("raising_profile" in prompt for prompt in talk["ice_breakers"])


def test_bad_tools_are_refused_and_change_nothing(client, pair, propose):
    url = pair.url + "/tools/swot"
    too_long = client.post(url, json={"strengths": ["x" * 1001]}, headers=pair.mentee)
    assert too_long.status_code == 422 and too_long.json()["errors"][0]["path"] == "strengths.0"
    too_many = client.post(url, json={"threats": ["t"] * 51}, headers=pair.mentee)
    assert too_many.status_code == 422 and too_many.json()["errors"][0]["path"] == "threats"
    unknown = client.post(url, json={"strenghts": ["typo"]}, headers=pair.mentee)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["path"] == "strenghts"
    no_goal = client.post(pair.url + "/tools/goals", json={"tasks": []}, headers=pair.mentee)
    assert no_goal.status_code == 422 and no_goal.json()["errors"][0]["path"] == "goal"
    bad_date = client.post(pair.url + "/tools/goals", json={"goal": "g", "target_date": "soon"}, headers=pair.mentee)
    assert bad_date.status_code == 422 and bad_date.json()["errors"][0]["path"] == "target_date"
    assert client.post(pair.url + "/tools/mindmap", json={}, headers=pair.mentee).status_code == 422
    assert client.get(url, headers=pair.mentee).json()["items"] == []

    # Before acceptance the first conversation is closed: 409 for reads and writes.
    pending = propose("M3", "M4", accept=False)
    for response in (client.get(pending.url + "/tools/swot", headers=pending.mentor),
                     client.post(pending.url + "/tools/swot", json={}, headers=pending.mentee),
                     client.get(pending.url + "/first-conversation", headers=pending.mentee)):
        assert response.status_code == 409 and response.json()["current_status"] == "pending", response.text


def test_first_conversation_starts_from_what_the_two_share(client, pair):
    mentor_profile = {
        "headline": "Underwriter", "bio": "Twenty years in property underwriting.", "expertise": ["underwriting"],
        "sectors": ["general_insurance"], "career_stage": "senior", "years_experience": 20,
        "qualifications": ["acii"], "languages": ["en"], "interaction_modes": ["video"],
        "location": {"country": "GB", "region": "london"}, "employer": "Acme Insurance", "interests": ["Cycling"]}
    mentee_profile = {"goals": "Move into underwriting", "areas_sought": ["career_planning"], "career_stage": "early",
                      "sectors": ["general_insurance", "broking"], "languages": ["en"], "interests": ["cycling"],
                      "location": {"country": "GB", "region": "london"}}
    assert client.put("/v1/members/me/mentor-profile", json=mentor_profile, headers=pair.mentor).status_code == 200
    assert client.put("/v1/members/me/mentee-profile", json=mentee_profile, headers=pair.mentee).status_code == 200

    talk = client.get(pair.url + "/first-conversation", headers=pair.mentee).json()
    assert talk["connections"] == [{"kind": "sectors", "values": ["general_insurance"]},
                                   {"kind": "region", "values": ["london"]},
                                   {"kind": "interests", "values": ["cycling"]},
                                   {"kind": "languages", "values": ["en"]}]
    # Written for people: the taxonomy's labels, never its ids.
    assert [p.split(" How")[0] for p in talk["ice_breakers"][:4]] == [
        "You both work in General insurance.", "You are both based in London.",
        "You share an interest in cycling.", "You both speak English."]
    assert not any(word in " ".join(talk["ice_breakers"]) for word in ("general_insurance", "london", " en", "sectors"))


def test_every_kind_of_tool_in_one_call(client, pair, clock):
    made = {}
    for kind, body in (("swot", {"strengths": ["Claims"]}), ("goals", {"goal": "Pass ACII"}),
                       ("goals", {"goal": "Chair a panel"}), ("gstar", {"goals": "Visibility"})):
        answer = client.post(f"{pair.url}/tools/{kind}", json=body, headers=pair.mentee)
        assert answer.status_code == 201, answer.text
        made.setdefault(kind, []).append(answer.json()["id"])
        clock.advance(timedelta(minutes=1))
    client.put(f"{pair.url}/tools/swot/{made['swot'][0]}", json={"strengths": ["Claims", "Empathy"]},
               headers={**pair.mentor, "If-Match": entity_tag(made["swot"][0], 1)})

    everything = client.get(pair.url + "/tools", headers=pair.mentor)
    assert everything.status_code == 200, everything.text
    body = everything.json()
    # Each kind is exactly what its own listing answers (the amended SWOT as it stands, by its author).
    for kind in ("swot", "gstar", "goals"):
        assert body[kind] == client.get(f"{pair.url}/tools/{kind}", headers=pair.mentor).json(), kind
    assert [t["id"] for t in body["goals"]["items"]] == made["goals"]
    assert body["swot"]["items"][0]["version"] == 2 and body["swot"]["items"][0]["author_id"] == "M2"
    # The parties as the relationship's details name them, seen from the caller's side.
    details = client.get(pair.url, headers=pair.mentor).json()
    assert {k: body[k] for k in ("status", "my_role", "mentor", "mentee", "counterpart")} == {
        k: details[k] for k in ("status", "my_role", "mentor", "mentee", "counterpart")}
    assert body["relationship_id"] == pair.id and body["my_role"] == "mentor"
    assert client.get(pair.url + "/tools", headers=pair.mentee).json()["counterpart"]["member_id"] == "M2"

    # `limit` counts per kind; a kind's cursor continues in that kind's own listing, and only there.
    first = client.get(pair.url + "/tools", params={"limit": 1}, headers=pair.mentee).json()
    assert [len(first[k]["items"]) for k in ("swot", "gstar", "goals")] == [1, 1, 1]
    assert first["swot"]["next_cursor"] is None and first["gstar"]["next_cursor"] is None
    rest = client.get(pair.url + "/tools/goals", params={"cursor": first["goals"]["next_cursor"]},
                      headers=pair.mentee)
    assert [t["id"] for t in rest.json()["items"]] == made["goals"][1:]
    elsewhere = client.get(pair.url + "/tools/swot", params={"cursor": first["goals"]["next_cursor"]},
                           headers=pair.mentee)
    assert elsewhere.status_code == 400 and elsewhere.json()["errors"][0]["path"] == "query.cursor"
    too_many = client.get(pair.url + "/tools", params={"limit": 101}, headers=pair.mentee)
    assert too_many.status_code == 422 and too_many.json()["errors"][0]["path"] == "query.limit"


def test_every_kind_of_tool_refused_like_each_kind(client, pair, propose, auth):
    """The same refusals as the per-kind listing: a stranger and support learn nothing (404), a
    deleted account's token is refused (403), a pending relationship's tools are not open (409)."""
    for outsider in (auth("M9", name="Eve Stranger"), auth("S1", name="Sam Support", roles=["support"])):
        for url in (pair.url + "/tools", pair.url + "/tools/swot"):
            refused = client.get(url, headers=outsider)
            assert refused.status_code == 404 and refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["type"].endswith("/not-found") and pair.id in refused.json()["detail"]
    pending = propose("M5", "M6", accept=False)
    for url in (pending.url + "/tools", pending.url + "/tools/goals"):
        closed = client.get(url, headers=pending.mentor)
        assert closed.status_code == 409 and closed.headers["content-type"] == "application/problem+json"
        assert closed.json()["type"].endswith("/workspace-not-open") and closed.json()["current_status"] == "pending"
    assert client.delete("/v1/members/me", headers=pair.mentee).status_code == 200
    gone = client.get(pair.url + "/tools", headers=pair.mentee)
    assert gone.status_code == 403 and gone.headers["content-type"] == "application/problem+json"
    # Withdrawn by the deletion after acceptance: the partner still reads what was written.
    assert client.get(pair.url + "/tools", headers=pair.mentor).json()["status"] == "withdrawn"
