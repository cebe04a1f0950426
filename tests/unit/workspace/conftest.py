"""An accepted relationship between a mentee (M1, Ada) and a mentor (M2, Grace), made
through the public API, for the workspace tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import pytest

from connect.bootstrap import Container
from tests.relationships_suite import announce_mentor, container, relationships_database  # noqa: F401 - fixtures


@dataclass
class Pair:
    id: str
    mentee: dict[str, str]
    mentor: dict[str, str]
    url: str


@pytest.fixture
def propose(client: Any, auth: Callable[..., dict[str, str]], container: Container,
            deliver: Callable[..., int]) -> Callable[..., Pair]:
    def make(mentee_id: str = "M1", mentor_id: str = "M2", *, accept: bool = True) -> Pair:
        announce_mentor(container, mentor_id, f"Mentor {mentor_id}")
        deliver({"projector"})
        mentee = auth(mentee_id, name=f"Mentee {mentee_id}")
        mentor = auth(mentor_id, name=f"Mentor {mentor_id}")
        created = client.post("/v1/proposals", headers=mentee, json={
            "mentor_id": mentor_id, "message": "Would you mentor me?", "areas": ["raising_profile"],
            "goals": "Speak at a conference", "interaction_modes": ["video"], "duration_months": 6})
        assert created.status_code == 201, created.text
        rel_id = created.json()["id"]
        if accept:
            accepted = client.post(f"/v1/relationships/{rel_id}/accept", headers=mentor)
            assert accepted.status_code == 200, accepted.text
        return Pair(rel_id, mentee, mentor, f"/v1/relationships/{rel_id}")

    return make


@pytest.fixture
def pair(propose: Callable[..., Pair]) -> Pair:
    return propose()
