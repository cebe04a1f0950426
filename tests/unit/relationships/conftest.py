"""Helpers for the relationships tests: mentors known to the service's member projection."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from connect.bootstrap import Container
from schemas.events import RELATIONSHIPS_TOPIC, MentorAvailabilityChanged
from tests.relationships_suite import (announce_mentor, container, publish, published,  # noqa: F401 - fixtures
                                       relationships_database)


def relationship_events(container: Container, relationship_id: str | None = None) -> list[dict[str, Any]]:
    """What the relationships service published on its own topic (after its relay ran), oldest first."""
    return published(container, topics=(RELATIONSHIPS_TOPIC,), key=relationship_id)


@pytest.fixture
def mentor(container: Container, deliver: Callable[..., int]) -> Callable[..., str]:
    """`mentor("M2", name="Grace Hopper", available=True)`: a mentor as matching announces one."""

    def make(member_id: str, name: str | None = None, available: bool = True, **_: Any) -> str:
        announce_mentor(container, member_id, name or f"Mentor {member_id}", available)
        deliver({"projector"})
        return member_id

    return make


@pytest.fixture
def set_availability(container: Container, deliver: Callable[..., int]) -> Callable[[str, bool], None]:
    def change(member_id: str, available: bool) -> None:
        publish(container, MentorAvailabilityChanged(member_id=member_id, available=available))
        deliver({"projector"})

    return change


def proposal_body(mentor_id: str, **overrides: Any) -> dict[str, Any]:
    body = {"mentor_id": mentor_id, "message": "Would you mentor me on raising my profile?",
            "areas": ["raising_profile"], "goals": "Speak at a conference", "interaction_modes": ["video"],
            "duration_months": 6}
    body.update(overrides)
    return body
