"""The relationships service's ports."""

from __future__ import annotations

from typing import Any, Protocol, Sequence

from schemas.events import AlternativeMentor


class MentorSuggestions(Protocol):
    """Available mentors matching `areas`, best first, for a mentee whose proposal expired.

    Adapters never raise: when matching cannot answer they log and return no
    alternatives, because the expiry must happen whether or not matching is up.
    """

    def suggest(self, areas: Sequence[str], exclude: Sequence[str], limit: int) -> list[AlternativeMentor]: ...


class SharedConnections(Protocol):
    """What two members share (sector, employer, region, interests...), as `[{"kind", "values"}]`.

    The comparison is matching's (`services.matching.domain.connections`); adapters ask matching
    for it and never raise: without matching the first conversation opens with prompts and no
    connections.
    """

    def between(self, member_id: str, other_id: str) -> list[dict[str, Any]]: ...


class MentorFacts(Protocol):
    """What matching knows of a mentor *now*, asked when the member projection has not heard of
    the mentor yet (the profile event is still on its way): `mentor(id)` is
    `{"name", "available", "expertise"}` for an active member with a mentor profile, else None.

    Adapters never raise: when matching cannot answer they log and return None, and the proposal
    is refused as it would have been without asking.
    """

    def mentor(self, member_id: str) -> dict[str, Any] | None: ...
