"""Adapters of the MentorSuggestions port.

- `InProcessSuggestions` (embedded): the matching service in the same process.
- `HttpSuggestions` (distributed): matching's `GET /v1/mentors/suggestions`, short timeout.
- `ProjectionSuggestions`: this service's own member projection (available, active
  mentors whose expertise overlaps the areas); the fallback of both others, so an
  expired proposal still offers alternatives while matching is down.

None of them raises: the expiry must happen whatever matching does.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

import httpx
from connect.db import Database
from schemas.events import AlternativeMentor
from services.relationships.adapters.repository import MemberRepository
from services.relationships.interfaces import MentorSuggestions

log = logging.getLogger(__name__)


def _alternative(item: Any) -> AlternativeMentor | None:
    """Accepts matching's suggestion dicts (or search results with a `mentor`)."""
    if isinstance(item, AlternativeMentor):
        return item
    if not isinstance(item, dict):
        return None
    mentor = item.get("mentor", item)
    member_id = mentor.get("member_id")
    if not member_id:
        return None
    expertise = mentor.get("expertise")
    return AlternativeMentor(member_id=str(member_id), name=str(mentor.get("name") or member_id),
                             headline=str(mentor.get("headline") or ""),
                             matched_areas=[str(a) for a in expertise] if isinstance(expertise, list) else [])


def _clean(items: Any, exclude: Sequence[str], limit: int, areas: Sequence[str] = ()) -> list[AlternativeMentor]:
    """Matching's answers as alternatives; `matched_areas` keeps only the mentor's expertise
    that the proposal named (the mentor's whole expertise when it named none)."""
    result: list[AlternativeMentor] = []
    for item in items or []:
        alternative = _alternative(item)
        if alternative is not None and areas:
            alternative = alternative.model_copy(
                update={"matched_areas": [a for a in areas if a in alternative.matched_areas]})
        if alternative is not None and alternative.member_id not in exclude \
                and all(a.member_id != alternative.member_id for a in result):
            result.append(alternative)
    return result[:limit]


class ProjectionSuggestions:
    def __init__(self, database: Database) -> None:
        self.database = database

    def suggest(self, areas: Sequence[str], exclude: Sequence[str], limit: int) -> list[AlternativeMentor]:
        wanted = set(areas)
        try:
            with self.database.session() as session:
                rows = MemberRepository(session).listed_mentors()
        except Exception as exc:  # the expiry goes ahead without alternatives
            log.warning("no mentor suggestions from the member projection: %s", exc)
            return []
        scored = [(len(wanted & set(row.expertise or [])), row) for row in rows if row.member_id not in exclude]
        scored = [(score, row) for score, row in scored if score or not wanted]
        scored.sort(key=lambda pair: (-pair[0], pair[1].member_id))
        return [AlternativeMentor(member_id=row.member_id, name=row.name or row.member_id,
                                  matched_areas=[a for a in areas if a in set(row.expertise or [])])
                for _, row in scored[:limit]]


class InProcessSuggestions:
    def __init__(self, matching: Callable[[], Any], fallback: MentorSuggestions | None = None) -> None:
        self._matching = matching  # resolved at call time: matching may be wired after us
        self.fallback = fallback

    def suggest(self, areas: Sequence[str], exclude: Sequence[str], limit: int) -> list[AlternativeMentor]:
        try:
            found = self._matching().suggest_mentors(list(areas), list(exclude), limit)
        except Exception as exc:  # matching down, not in this process, or failing
            log.warning("no mentor suggestions from matching (%s); using the member projection", exc)
            return self.fallback.suggest(areas, exclude, limit) if self.fallback else []
        return _clean(found, exclude, limit, areas)


class HttpSuggestions:
    def __init__(self, base_url: str, token: Callable[[], str | None], fallback: MentorSuggestions | None = None,
                 timeout_seconds: float = 2.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.fallback = fallback
        self.timeout_seconds = timeout_seconds

    def suggest(self, areas: Sequence[str], exclude: Sequence[str], limit: int) -> list[AlternativeMentor]:
        token = self.token()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = httpx.get(f"{self.base_url}/v1/mentors/suggestions",
                                 params={"areas": list(areas), "exclude": list(exclude), "limit": limit},
                                 headers=headers, timeout=self.timeout_seconds)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("no mentor suggestions from %s (%s); using the member projection", self.base_url, exc)
            return self.fallback.suggest(areas, exclude, limit) if self.fallback else []
        items = body.get("results", []) if isinstance(body, dict) else body
        return _clean(items, exclude, limit, areas)
