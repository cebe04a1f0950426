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


class _Watched:
    """A unit of work that counts itself open in `open_units` while its transaction lasts."""

    def __init__(self, inner, open_units: list[int]):
        self.inner, self.open_units = inner, open_units

    def __enter__(self):
        self.open_units.append(1)
        return self.inner.__enter__()

    def __exit__(self, *exc):
        self.open_units.pop()
        return self.inner.__exit__(*exc)


class _SlowMatching:
    """Matching's answer, noting how many transactions were open when it was asked."""

    def __init__(self, open_units: list[int]):
        self.open_units, self.open_when_asked = open_units, []

    def mentor(self, member_id):
        self.open_when_asked.append((member_id, len(self.open_units)))
        return {"name": "Grace", "available": True, "expertise": ["claims"]}


def _watch(container):
    proposals = container.service("relationships").proposals
    open_units: list[int] = []
    make_uow = proposals.uow
    proposals.uow = lambda: _Watched(make_uow(), open_units)
    proposals.mentors = _SlowMatching(open_units)
    return proposals


def test_matching_is_asked_before_the_proposal_transaction_opens(client, auth, container):
    proposals = _watch(container)
    sent = client.post("/v1/proposals", json={**PROPOSAL, "mentor_id": "G1"}, headers=auth("A1", name="Ada"))
    assert sent.status_code == 201, sent.text
    assert sent.json()["mentor"]["name"] == "Grace"
    assert proposals.mentors.open_when_asked == [("G1", 0)]
    # Known now: the next proposal asks nobody.
    assert client.post("/v1/proposals", json={**PROPOSAL, "mentor_id": "G1"},
                       headers=auth("B1", name="Bo")).status_code == 201
    assert proposals.mentors.open_when_asked == [("G1", 0)]


def test_a_mentee_reopening_asks_matching_before_the_transaction_opens(client, auth, container, clock):
    proposals = _watch(container)
    rel = client.post("/v1/proposals", json={**PROPOSAL, "mentor_id": "G1"}, headers=auth("A1", name="Ada")).json()
    url = f"/v1/relationships/{rel['id']}"
    assert client.post(url + "/withdraw", headers=auth("A1")).status_code == 200
    with proposals.uow() as uow:  # the projection forgets G1 is a mentor (as before the profile event)
        uow.members.upsert("G1", {}, {"is_mentor": False}, clock.now())
        uow.commit()
    reopened = client.post(url + "/reopen", headers=auth("A1"))
    assert reopened.status_code == 200 and reopened.json()["status"] == "pending"
    assert proposals.mentors.open_when_asked == [("G1", 0), ("G1", 0)]


def test_http_mentors_sends_the_member_id_as_one_path_segment(client, auth, container, served_api):
    assert client.put("/v1/members/me/mentor-profile", json=PROFILE, headers=auth("G1", name="Grace")).status_code == 200
    token = container.dev_issuer.mint("svc-relationships", "Relationships service", "", roles=["service"])
    mentors = HttpMentors(served_api, lambda: token)
    assert mentors.mentor("G1") == {"name": "Grace", "available": True, "expertise": ["claims"]}
    # Unencoded, "?" would end the path and ask for G1's page instead.
    assert mentors.mentor("G1?x=1") is None
    assert mentors.mentor("G1#x") is None
