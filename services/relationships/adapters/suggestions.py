"""Adapters of the MentorSuggestions port: in-process (embedded) and HTTP (distributed)."""

from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

import httpx

from schemas.events import AlternativeMentor

log = logging.getLogger(__name__)


def _alternative(item: Any) -> AlternativeMentor | None:
    """Accepts a matching search result, a mentor dict or an AlternativeMentor."""
    if isinstance(item, AlternativeMentor):
        return item
    if hasattr(item, "model_dump"):
        item = item.model_dump()
    if not isinstance(item, dict):
        return None
    mentor = item.get("mentor", item)
    member_id = mentor.get("member_id")
    if not member_id:
        return None
    return AlternativeMentor(member_id=str(member_id), name=str(mentor.get("name") or member_id),
                             headline=str(mentor.get("headline") or ""))


def _clean(items: Any, exclude: Sequence[str], limit: int) -> list[AlternativeMentor]:
    result: list[AlternativeMentor] = []
    for item in items or []:
        alternative = _alternative(item)
        if alternative is not None and alternative.member_id not in exclude \
                and all(a.member_id != alternative.member_id for a in result):
            result.append(alternative)
    return result[:limit]


class InProcessSuggestions:
    """Embedded shape: ask the matching service living in the same process."""

    def __init__(self, matching: Callable[[], Any]) -> None:
        self._matching = matching  # resolved lazily: matching may be wired after us

    def suggest(self, areas: Sequence[str], exclude: Sequence[str], limit: int) -> list[AlternativeMentor]:
        try:
            found = self._matching().suggest_mentors(list(areas), list(exclude), limit)
        except Exception as exc:  # matching down or not built yet: expire without alternatives
            log.warning("no mentor suggestions from matching: %s", exc)
            return []
        return _clean(found, exclude, limit)


class HttpSuggestions:
    """Distributed shape: `POST {CONNECT_MATCHING_URL}/internal/suggestions` with a short timeout."""

    def __init__(self, base_url: str, timeout_seconds: float = 2.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds

    def suggest(self, areas: Sequence[str], exclude: Sequence[str], limit: int) -> list[AlternativeMentor]:
        try:
            response = httpx.post(f"{self.base_url}/internal/suggestions",
                                  json={"areas": list(areas), "exclude": list(exclude), "limit": limit},
                                  timeout=self.timeout_seconds)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("no mentor suggestions from %s: %s", self.base_url, exc)
            return []
        items = body.get("results", body.get("mentors", [])) if isinstance(body, dict) else body
        return _clean(items, exclude, limit)
