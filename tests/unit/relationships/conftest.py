"""Helpers for the relationships tests: mentors known to the service's member projection."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from connect.bootstrap import Container
from connect.events import OutgoingMessage
from schemas.events import (RELATIONSHIPS_TOPIC, EventData, MemberDetailsChanged, MentorAvailabilityChanged,
                            MentorProfileChanged)
from tests.relationships_suite import container, published, relationships_database  # noqa: F401 - fixtures


def relationship_events(container: Container, relationship_id: str | None = None) -> list[dict[str, Any]]:
    """What the relationships service published on its own topic (after its relay ran), oldest first."""
    return published(container, topics=(RELATIONSHIPS_TOPIC,), key=relationship_id)


def publish(container: Container, *events: EventData) -> None:
    """Put events on the transport the way matching's relay would."""
    container.transport.publisher().publish([
        OutgoingMessage(e.TOPIC, e.key(), e.envelope(producer="matching", occurred_at=container.clock.now()).to_bytes())
        for e in events])


@pytest.fixture
def mentor(container: Container, deliver: Callable[..., int]) -> Callable[..., str]:
    """`mentor("M2", name="Grace Hopper", available=True)`: a mentor as matching announces one."""

    def make(member_id: str, name: str | None = None, available: bool = True, **_: Any) -> str:
        publish(container,
                MemberDetailsChanged(member_id=member_id, name=name or f"Mentor {member_id}",
                                     email=f"{member_id.lower()}@example.org"),
                MentorProfileChanged(member_id=member_id, available=available, expertise=["career_planning"]))
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
