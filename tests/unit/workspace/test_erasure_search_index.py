"""After a bulk rebuild every mentor shares one tantivy segment, where a deleted document keeps
its bytes until a merge: erasure must leave none of the member's terms in any index version."""

from __future__ import annotations

from tests.unit.workspace.test_erasure_everywhere import CANARY, erase, index_terms


def _mentor(client, headers, headline: str) -> None:  # type: ignore[no-untyped-def]
    assert client.put("/v1/members/me/mentor-profile", headers=headers, json={
        "headline": headline, "bio": headline, "expertise": ["underwriting"], "sectors": ["general_insurance"],
        "career_stage": "senior", "years_experience": 20, "qualifications": ["acii"], "languages": ["en"],
        "interaction_modes": ["video"], "location": {"country": "GB", "region": "london"},
        "employer": headline, "interests": [headline]}).status_code == 200


def test_an_erased_mentor_leaves_no_terms_in_a_rebuilt_index(client, auth, container, deliver):
    ada = auth("M1", name=f"Ada {CANARY}", email=f"{CANARY}@example.org")
    _mentor(client, ada, f"Headline {CANARY}")
    _mentor(client, auth("M2", name="Grace"), "Underwriting lead")
    deliver()
    container.service("matching").reindex()  # one segment holding both mentors
    assert index_terms(container.settings.var_dir), "the canary never reached the search index"
    erase(client, ada, auth, deliver)
    assert index_terms(container.settings.var_dir) == []
    grace = client.post("/v1/mentors/search", headers=auth("M3"), json={"text": "underwriting"})
    assert [hit["mentor"]["member_id"] for hit in grace.json()["results"]] == ["M2"], grace.text
