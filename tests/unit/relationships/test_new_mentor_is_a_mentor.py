"""A proposal to a mentor whose profile is seconds old is not refused as "not a mentor" while the
relationships service's member projection has yet to hear of the profile: the service asks
matching (in process in the embedded shape; over matching's HTTP API with the service credential
in the distributed one) and records what it learns.  A member without a mentor profile is still
refused."""

from __future__ import annotations

from fastapi.testclient import TestClient

from connect.web import create_app
from services.relationships.adapters.mentors import HttpMentors

PROPOSAL = {"message": "Would you mentor me?", "areas": ["raising_profile"], "goals": "Speak at a conference",
            "interaction_modes": ["video"], "duration_months": 6}
PROFILE = {"headline": "Claims lead", "expertise": ["claims"], "interests": ["new-mentor"]}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_embedded_a_proposal_right_after_the_first_profile_is_accepted(client, auth):
    assert client.put("/v1/members/me/mentor-profile", json=PROFILE, headers=auth("G1", name="Grace")).status_code == 200
    # No event delivered: the projection has not heard of G1's profile.
    sent = client.post("/v1/proposals", json={**PROPOSAL, "mentor_id": "G1"}, headers=auth("A1", name="Ada"))
    assert sent.status_code == 201, sent.text
    assert sent.json()["mentor"]["name"] == "Grace"
    refused = client.post("/v1/proposals", json={**PROPOSAL, "mentor_id": "A9"}, headers=auth("A1", name="Ada"))
    assert refused.status_code == 409 and "not a mentor" in refused.json()["detail"]


def test_distributed_relationships_ask_matching_over_http(client, auth, container, make_container, served_api):
    assert client.put("/v1/members/me/mentor-profile", json=PROFILE, headers=auth("G1", name="Grace")).status_code == 200
    service_token = container.dev_issuer.mint("svc-relationships", "Relationships service", "", roles=["service"])
    # Relationships elsewhere: its own database, matching reached only over HTTP.
    distributed = make_container(matching_url=served_api, matching_token=service_token,
                                 var_dir=container.settings.var_dir.parent / "relationships-elsewhere")
    assert isinstance(distributed.service("relationships").proposals.mentors, HttpMentors)
    mentee = _bearer(distributed.dev_issuer.mint("A1", "Ada", "a1@example.org"))
    with TestClient(create_app(distributed), raise_server_exceptions=False) as relationships:
        sent = relationships.post("/v1/proposals", json={**PROPOSAL, "mentor_id": "G1"}, headers=mentee)
        assert sent.status_code == 201, sent.text
        assert sent.json()["mentor"]["name"] == "Grace"
        refused = relationships.post("/v1/proposals", json={**PROPOSAL, "mentor_id": "A9"}, headers=mentee)
        assert refused.status_code == 409 and "not a mentor" in refused.json()["detail"]
    # Matching down: refused as before asking (the projection knows nothing), not a 500.
    assert HttpMentors("http://127.0.0.1:9", lambda: service_token).mentor("G1") is None
