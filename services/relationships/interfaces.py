"""The relationships service's ports."""

from __future__ import annotations

from typing import Protocol, Sequence

from schemas.events import AlternativeMentor


class MentorSuggestions(Protocol):
    """Available mentors matching `areas`, best first, for a mentee whose proposal expired.

    Adapters never raise: when matching cannot answer they log and return no
    alternatives, because the expiry must happen whether or not matching is up.
    """

    def suggest(self, areas: Sequence[str], exclude: Sequence[str], limit: int) -> list[AlternativeMentor]: ...
