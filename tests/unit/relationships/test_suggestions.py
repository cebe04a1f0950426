"""Alternatives offered when a proposal expires: from matching in-process, over HTTP, and from
our own member projection when matching cannot answer."""

from __future__ import annotations

from datetime import timedelta

import httpx

from stack.engines.base import free_port
from services.relationships.adapters.suggestions import (HttpSuggestions, InProcessSuggestions,
                                                         ProjectionSuggestions)
from tests.unit.relationships.conftest import proposal_body
from tests.unit.relationships.conftest import relationship_events


def _mentor_profile(client, auth, member_id, expertise):
    body = {"headline": f"Headline {member_id}", "bio": "Happy to help.", "expertise": expertise,
            "sectors": ["general_insurance"], "career_stage": "senior", "years_experience": 20,
            "qualifications": ["acii"], "languages": ["en"], "interaction_modes": ["video"],
            "location": {"country": "GB", "region": "london"}, "employer": "Acme", "interests": ["Cycling"]}
    answer = client.put("/v1/members/me/mentor-profile", json=body, headers=auth(member_id, name=f"Mentor {member_id}"))
    assert answer.status_code == 200, answer.text


def test_expiry_offers_matching_mentors_in_process_over_http_and_from_the_projection(
        client, auth, container, deliver, clock, served_api):
    start = clock.now()
    for member_id, expertise in [("A", ["underwriting"]), ("B", ["underwriting"]), ("C", ["underwriting", "claims"]),
                                 ("D", ["claims"])]:
        _mentor_profile(client, auth, member_id, expertise)
    deliver()  # matching's index and our member projection both learn the mentors
    rel = client.post("/v1/proposals", json=proposal_body("A", areas=["underwriting"]), headers=auth("M1"))
    assert rel.status_code == 201, rel.text
    container.service("relationships").send_due_reminders(start + timedelta(days=21))
    expired = relationship_events(container, rel.json()["id"])[-1]
    assert expired["type"] == "ProposalExpired"
    offered = {a["member_id"] for a in expired["data"]["alternatives"]}
    assert offered == {"B", "C"}, expired["data"]
    assert all(a["name"] == f"Mentor {a['member_id']}" for a in expired["data"]["alternatives"])

    projection = ProjectionSuggestions(container.services["relationships"].database)

    def matching_down():
        raise ConnectionError("matching is down")

    fallback = InProcessSuggestions(matching_down, projection).suggest(["underwriting"], ["A", "M1"], 3)
    assert [a.member_id for a in fallback] == ["B", "C"]

    # The distributed adapter against matching's real HTTP API, then against nothing at all.
    token = container.dev_issuer.mint("svc-relationships", "Relationships service", "")
    over_http = HttpSuggestions(served_api, lambda: token, None).suggest(["underwriting"], ["A", "M1"], 3)
    assert {a.member_id for a in over_http} == {"B", "C"}
    assert httpx.get(f"{served_api}/healthz").status_code == 200
    nobody = HttpSuggestions(f"http://127.0.0.1:{free_port()}", lambda: None, projection, timeout_seconds=0.5)
    assert [a.member_id for a in nobody.suggest(["claims"], [], 3)] == ["C", "D"]
