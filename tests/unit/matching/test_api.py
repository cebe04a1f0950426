"""The matching API on the embedded shape: profiles, availability, ranked search, bad input."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.events import (Envelope, MentorAvailabilityChanged, MentorProfileChanged, ProposalAccepted,
                            ProposalSent)


def mentor_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "headline": "Commercial underwriter",
        "bio": "Twenty years in property underwriting; happy to help with exams.",
        "expertise": ["underwriting"],
        "sectors": ["general_insurance"],
        "career_stage": "senior",
        "years_experience": 20,
        "qualifications": ["acii"],
        "languages": ["en"],
        "interaction_modes": ["video"],
        "location": {"country": "GB", "region": "london"},
        "employer": "Acme Insurance",
        "interests": ["Cycling"],
    }
    body.update(overrides)
    return body


@pytest.fixture
def put_mentor(client, auth):
    def put(member_id: str, **overrides: Any) -> dict[str, Any]:
        response = client.put("/v1/members/me/mentor-profile", json=mentor_body(**overrides),
                              headers=auth(member_id, name=f"Mentor {member_id}"))
        assert response.status_code == 200, response.text
        return response.json()

    return put


def search(client, auth, member_id: str = "SEEKER", **body: Any) -> Any:
    return client.post("/v1/mentors/search", json=body, headers=auth(member_id))


def outbox_events(container) -> list[Envelope]:
    from sqlalchemy import select

    from services.matching.adapters import orm

    database = container.services["matching"].database
    with database.session() as session:
        return [Envelope.from_bytes(row.payload) for row in session.execute(select(orm.outbox.c.payload))]


def test_taxonomy_lists_every_controlled_field(client, auth):
    response = client.get("/v1/taxonomy", headers=auth("M1"))
    assert response.status_code == 200
    taxonomy = response.json()
    assert set(taxonomy) == {"expertise", "sectors", "career_stages", "interaction_modes", "qualifications",
                             "languages", "regions"}
    expertise = {t["id"] for t in taxonomy["expertise"]}
    assert {"career_planning", "work_life_balance", "personal_confidence", "underwriting"} <= expertise
    assert [t["id"] for t in taxonomy["career_stages"]] == ["student", "early", "mid", "senior", "executive",
                                                            "retired"]
    assert {"id": "en", "label": "English"} in taxonomy["languages"]
    assert {t["id"] for t in taxonomy["interaction_modes"]} == {"in_person", "video", "email"}


def test_mentor_profile_round_trip_takes_name_from_directory_and_records_event(client, auth, container, put_mentor):
    profile = put_mentor("M1")
    assert profile["name"] == "Mentor M1" and profile["available"] is True
    assert "availability_message" not in profile
    got = client.get("/v1/members/me/mentor-profile", headers=auth("M1", name="Mentor M1")).json()
    assert got["expertise"] == ["underwriting"] and got["location"]["region"] == "london"
    events = [e for e in outbox_events(container) if e.type == MentorProfileChanged.TYPE]
    assert len(events) == 1
    assert events[0].data["available"] is True and events[0].data["active"] is True
    assert events[0].data["name"] == "Mentor M1"
    # Name is not editable here.
    response = client.put("/v1/members/me/mentor-profile", json=mentor_body(name="Someone else"),
                          headers=auth("M1"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "name"


def test_mentee_profile_round_trip(client, auth):
    body = {"goals": "Pass my ACII and move into claims", "areas_sought": ["claims", "career_planning"],
            "career_stage": "early", "sectors": ["general_insurance"], "languages": ["en"],
            "location": {"country": "gb", "region": "scotland"}}
    assert client.get("/v1/members/me/mentee-profile", headers=auth("E1")).status_code == 404
    response = client.put("/v1/members/me/mentee-profile", json=body, headers=auth("E1"))
    assert response.status_code == 200, response.text
    got = client.get("/v1/members/me/mentee-profile", headers=auth("E1")).json()
    assert got["areas_sought"] == ["claims", "career_planning"] and got["location"]["country"] == "GB"


def test_more_criteria_met_ranks_first_with_reasons(client, auth, put_mentor, deliver):
    put_mentor("A", expertise=["claims"], sectors=["life_pensions"], location={"country": "GB", "region": "wales"})
    put_mentor("B", expertise=["claims"], sectors=["general_insurance"], location={"country": "GB", "region": "wales"})
    put_mentor("C", expertise=["claims"], sectors=["general_insurance"], location={"country": "GB", "region": "london"})
    put_mentor("D", expertise=["broking"], sectors=["broking"], location={"country": "GB", "region": "scotland"})
    client.put("/v1/members/me/mentee-profile", headers=auth("SEEKER"),
               json={"sectors": ["general_insurance"], "location": {"country": "GB", "region": "london"},
                     "languages": ["en"], "interests": ["cycling"]})
    deliver()
    response = search(client, auth, criteria={"expertise": ["claims"], "sectors": ["general_insurance"],
                                              "region": "london"})
    assert response.status_code == 200, response.text
    page = response.json()
    assert [r["mentor"]["member_id"] for r in page["results"]] == ["C", "B", "A"]
    assert page["total"] == 3 and page["next_cursor"] is None
    top = page["results"][0]
    assert top["match_percent"] == 100
    assert {m["criterion"]: m["values"] for m in top["matched"]} == {
        "expertise": ["claims"], "sectors": ["general_insurance"], "region": ["london"]}
    assert top["mentor"]["name"] == "Mentor C"
    kinds = {c["kind"]: c["values"] for c in top["connections"]}
    assert kinds["sectors"] == ["general_insurance"] and kinds["region"] == ["london"]
    assert kinds["interests"] == ["cycling"]
    assert page["results"][1]["match_percent"] == round(100 * 5 / 6.5)
    assert page["results"][0]["score"] > page["results"][1]["score"] > page["results"][2]["score"]


def test_text_never_outweighs_a_criterion(client, auth, put_mentor, deliver):
    put_mentor("T1", headline="Reinsurance treaty specialist", bio="treaty reinsurance pricing",
               expertise=["reinsurance"], languages=["fr"])
    put_mentor("T2", headline="Generalist", bio="nothing relevant", expertise=["operations"], languages=["en"])
    deliver()
    page = search(client, auth, text="reinsurance treaty pricing", criteria={"languages": "en"},
                  weights={"languages": 0.5}).json()
    assert [r["mentor"]["member_id"] for r in page["results"]] == ["T2", "T1"]
    assert page["results"][1]["score"] < 0.5


def test_availability_off_removes_from_search_and_shows_message(client, auth, put_mentor, deliver, container):
    put_mentor("M1")
    deliver()
    assert search(client, auth).json()["total"] == 1
    response = client.put("/v1/members/me/mentor-profile/availability", json={"available": False},
                          headers=auth("M1", name="Mentor M1"))
    assert response.status_code == 200
    assert response.json()["availability_message"] == "You are currently unavailable to mentees"
    deliver()
    assert search(client, auth).json()["total"] == 0
    page = client.get("/v1/mentors/M1", headers=auth("SEEKER"))
    assert page.status_code == 200 and page.json()["available"] is False
    events = [e for e in outbox_events(container) if e.type == MentorAvailabilityChanged.TYPE]
    assert [e.data["available"] for e in events] == [False]
    client.put("/v1/members/me/mentor-profile/availability", json={"available": True}, headers=auth("M1"))
    deliver()
    assert search(client, auth).json()["total"] == 1


def test_edit_account_says_which_profiles_i_hold_and_when_i_am_unavailable(client, auth, put_mentor):
    me = client.get("/v1/members/me", headers=auth("M1", name="Mentor M1"))
    assert me.status_code == 200
    assert (me.json()["profiles"], me.json()["available"], me.json()["availability_message"]) == ([], None, None)
    put_mentor("M1")
    client.put("/v1/members/me/mentee-profile", headers=auth("M1"), json={"goals": "Lead a team",
                                                                         "areas_sought": ["leadership"]})
    me = client.get("/v1/members/me", headers=auth("M1")).json()
    assert me["profiles"] == ["mentor", "mentee"] and me["available"] is True and me["availability_message"] is None
    client.put("/v1/members/me/mentor-profile/availability", json={"available": False}, headers=auth("M1"))
    me = client.get("/v1/members/me", headers=auth("M1")).json()
    assert me["available"] is False and me["availability_message"] == "You are currently unavailable to mentees"
    schema = client.get("/openapi.json").json()["components"]["schemas"]["MeOut"]["properties"]
    assert "unavailable to mentees" in schema["availability_message"]["description"]


def test_searcher_never_sees_themselves_and_paging_walks_every_mentor(client, auth, put_mentor, deliver):
    for i in range(7):
        put_mentor(f"P{i}", expertise=["claims"] if i % 2 else ["underwriting"])
    deliver()
    seen: list[str] = []
    cursor = None
    while True:
        page_body: dict[str, Any] = {"size": 3}
        if cursor:
            page_body["cursor"] = cursor
        page = search(client, auth, member_id="P0", criteria={"expertise": ["claims", "underwriting"]},
                      weights={"expertise": 2}, page=page_body).json()
        assert page["total"] == 6
        seen += [r["mentor"]["member_id"] for r in page["results"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["P1", "P2", "P3", "P4", "P5", "P6"]


def test_relationship_events_flag_the_mentor(client, auth, put_mentor, deliver, container):
    put_mentor("M1")
    put_mentor("M2")
    service = container.service("matching")
    with service.uow() as uow:
        uow.record(ProposalSent(relationship_id="R1", mentor_id="M1", mentee_id="SEEKER"))
        uow.commit()
    deliver()
    page = search(client, auth).json()
    flags = {r["mentor"]["member_id"]: r["relationship"] for r in page["results"]}
    assert flags == {"M1": {"relationship_id": "R1", "status": "pending"}, "M2": None}
    # M1 now carries a proposal: the load nudge puts the idle M2 first on an otherwise equal footing.
    assert page["results"][0]["mentor"]["member_id"] == "M2"
    with service.uow() as uow:
        uow.record(ProposalAccepted(relationship_id="R1", mentor_id="M1", mentee_id="SEEKER"))
        uow.commit()
    deliver()
    stats = client.get("/v1/mentors/M1", headers=auth("SEEKER")).json()["stats"]
    assert stats["proposals_received"] == 1 and stats["response_rate"] == 100 and stats["active_mentees"] == 1


def test_account_deleted_hides_mentor_everywhere(client, auth, put_mentor, deliver, container):
    from schemas.events import AccountDeleted

    put_mentor("M1")
    deliver()
    service = container.service("matching")
    with service.uow() as uow:
        uow.record(AccountDeleted(member_id="M1"))
        uow.commit()
    deliver()
    assert client.get("/v1/mentors/M1", headers=auth("SEEKER")).status_code == 404
    assert search(client, auth).json()["total"] == 0
    assert service.suggest_mentors(["underwriting"], exclude=[]) == []


def test_missing_mentor_is_404(client, auth):
    response = client.get("/v1/mentors/NOPE", headers=auth("SEEKER"))
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_suggestions_match_areas_and_skip_excluded(client, auth, put_mentor, deliver, container):
    put_mentor("S1", expertise=["claims"], headline="Claims lead")
    put_mentor("S2", expertise=["claims", "fraud"])
    put_mentor("S3", expertise=["actuarial"])
    deliver()
    service = container.service("matching")
    suggested = service.suggest_mentors(["claims"], exclude=["S2"], limit=3)
    assert suggested == [{"member_id": "S1", "name": "Mentor S1", "headline": "Claims lead", "expertise": ["claims"]}]
    over_http = client.get("/v1/mentors/suggestions", params={"areas": ["claims"], "exclude": ["S2"]},
                           headers=auth("X"))
    assert over_http.status_code == 200 and over_http.json() == suggested


@pytest.mark.parametrize("body, path", [
    ({"criteria": {"expertise": ["basket_weaving"]}}, "criteria.expertise.0"),
    ({"criteria": {"shoe_size": 9}}, "criteria.shoe_size"),
    ({"criteria": {"expertise": "claims"}, "weights": {"expertise": -1}}, "weights.expertise"),
    ({"criteria": {"expertise": "claims"}, "weights": {"expertise": 1e9}}, "weights.expertise"),
    ({"page": {"size": 101}}, "page.size"),
    ({"text": "x" * 501}, "text"),
    ({"criteria": {"years_experience": "lots"}}, "criteria.years_experience"),
    ({"surprise": True}, "surprise"),
])
def test_bad_search_input_is_422_with_field_path(client, auth, body, path):
    response = search(client, auth, **body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert path in [e["path"] for e in response.json()["errors"]]


@pytest.mark.parametrize("overrides, path", [
    ({"expertise": ["underwriting", "knitting"]}, "expertise.1"),
    ({"career_stage": "teenager"}, "career_stage"),
    ({"location": {"country": "GB", "region": "atlantis"}}, "location.region"),
    ({"languages": ["english"]}, "languages.0"),
    ({"interaction_modes": ["carrier_pigeon"]}, "interaction_modes.0"),
    ({"years_experience": -3}, "years_experience"),
])
def test_bad_profile_is_422_and_writes_nothing(client, auth, container, overrides, path):
    response = client.put("/v1/members/me/mentor-profile", json=mentor_body(**overrides), headers=auth("BAD"))
    assert response.status_code == 422, response.text
    assert path in [e["path"] for e in response.json()["errors"]]
    assert client.get("/v1/members/me/mentor-profile", headers=auth("BAD")).status_code == 404
    assert not [e for e in outbox_events(container) if e.type == MentorProfileChanged.TYPE]


def test_availability_without_profile_is_404_and_body_is_strict(client, auth):
    assert client.put("/v1/members/me/mentor-profile/availability", json={"available": False},
                      headers=auth("NOBODY")).status_code == 404
    response = client.put("/v1/members/me/mentor-profile/availability", json={"available": "nope"},
                          headers=auth("NOBODY"))
    assert response.status_code == 422 and response.json()["errors"][0]["path"] == "available"


def test_erasure_drops_profiles_and_anonymises_directory(client, auth, put_mentor, deliver, container):
    from schemas.events import MemberErased

    put_mentor("M1")
    client.put("/v1/members/me/mentee-profile", json={"goals": "secret goals"}, headers=auth("M1"))
    deliver()
    service = container.service("matching")
    with service.uow() as uow:
        uow.record(MemberErased(member_id="M1"))
        uow.commit()
    deliver()
    member = service.get_member("M1")
    assert member["name"] == "Erased member" and member["email"] == "" and member["active"] is False
    assert client.get("/v1/mentors/M1", headers=auth("SEEKER")).status_code == 404
    assert search(client, auth).json()["total"] == 0
    assert not [e for e in outbox_events(container) if e.key == "M1" and e.type != MemberErased.TYPE]
