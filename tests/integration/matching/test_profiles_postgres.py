"""The matching migrations and a profile round trip on real PostgreSQL, through the API,
the outbox and the indexer consumer (embedded search)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from schemas.events import ProposalSent
from tests.conftest import deliver_events


def test_profile_round_trip_and_search_on_postgres(pg_database, make_container):
    from connect.web import create_app

    container = make_container(matching_database_url=pg_database)
    assert container.services["matching"].database.is_postgres
    issuer = container.dev_issuer
    assert issuer is not None

    def auth(member_id: str) -> dict[str, str]:
        return {"Authorization": "Bearer " + issuer.mint(member_id, f"Member {member_id}", f"{member_id}@example.org")}

    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        body = {"headline": "Claims director", "expertise": ["claims"], "sectors": ["general_insurance"],
                "languages": ["en"], "location": {"country": "GB", "region": "north_west"},
                "interests": ["Sailing"]}
        assert client.put("/v1/members/me/mentor-profile", json=body, headers=auth("PG1")).status_code == 200
        client.put("/v1/members/me/mentee-profile", json={"areas_sought": ["claims"], "interests": ["sailing"]},
                   headers=auth("PG2"))
        service = container.service("matching")
        with service.uow() as uow:
            uow.record(ProposalSent(relationship_id="R-PG", mentor_id="PG1", mentee_id="PG2"))
            uow.commit()
        deliver_events(container)
        got = client.get("/v1/members/me/mentor-profile", headers=auth("PG1")).json()
        assert got["location"] == {"country": "GB", "region": "north_west", "city": None}
        page = client.post("/v1/mentors/search", json={"criteria": {"expertise": "claims"}},
                           headers=auth("PG2")).json()
        assert [r["mentor"]["member_id"] for r in page["results"]] == ["PG1"]
        assert page["results"][0]["relationship"] == {"relationship_id": "R-PG", "status": "pending"}
        assert page["results"][0]["connections"] == [{"kind": "interests", "values": ["sailing"]}]
        assert client.get("/v1/mentors/PG1", headers=auth("PG2")).json()["stats"]["pending_proposals"] == 1


def test_embedding_cache_and_text_search_on_postgres(pg_database, make_container, clock):
    """The passage vectors cache (bytea keys, insert-or-ignore, prune by (model, hash) pairs) on PostgreSQL."""
    from datetime import timedelta

    from sqlalchemy import func, select

    from services.matching.adapters import orm
    from services.matching.domain.profiles import Location, MentorProfile

    container = make_container(matching_database_url=pg_database)
    service = container.service("matching")
    profile = MentorProfile(headline="Special investigations lead", bio="I help investigators spot staged "
                            "accidents. Happy to meet by video.", expertise=["fraud"], languages=["en"],
                            location=Location("GB", "london"))
    service.import_members([("PGF", "Fay", "fay@example.org", profile, None),
                            ("PGG", "Gus", "gus@example.org", MentorProfile(headline="Pensions adviser",
                             bio="Happy to meet by video.", expertise=["financial_planning"]), None)])
    service.reindex()
    service.passage_vectors.vectors(["Special investigations lead"])  # stored already: ignored, not an error
    body = service.search("SEEKER", text="car crash claims that were set up on purpose")
    assert body["need"] == "text" and body["results"][0]["mentor"]["member_id"] == "PGF"
    assert body["results"][0]["matched_text"]["sentence"] == "I help investigators spot staged accidents."

    def cached() -> int:
        with service.database.session() as session:
            return session.execute(select(func.count()).select_from(orm.embeddings)).scalar_one()

    assert cached() == 6  # two headlines, two expertise lines, two sentences (one shared)
    service.set_availability("PGF", False)
    clock.advance(timedelta(seconds=1))
    service.reindex()
    assert cached() == 3
