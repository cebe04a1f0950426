"""Adapters of the MentorFacts port: matching owns mentor profiles; relationships asks when its
member projection does not know a mentor yet.

- `InProcessMentors` (embedded): the matching service's facade in this process.
- `HttpMentors` (distributed): matching's `GET /v1/mentors/{id}` (the profile page every member
  may read), asked with the service credential, short timeout; 404 means no active mentor.
"""

from __future__ import annotations

import logging
from typing import Any, Callable
from urllib.parse import quote

import httpx

from connect.errors import NotFound

log = logging.getLogger(__name__)


def _facts(page: Any) -> dict[str, Any] | None:
    if not isinstance(page, dict) or not isinstance(page.get("available"), bool):
        return None
    expertise = page.get("expertise")
    return {"name": page.get("name") if isinstance(page.get("name"), str) else None,
            "available": page["available"],
            "expertise": [str(e) for e in expertise] if isinstance(expertise, list) else None}


class InProcessMentors:
    def __init__(self, matching: Callable[[], Any]) -> None:
        self._matching = matching  # resolved at call time: matching may be wired after us, or not at all

    def mentor(self, member_id: str) -> dict[str, Any] | None:
        try:
            return _facts(self._matching().public_mentor(member_id))
        except NotFound:
            return None
        except Exception as exc:  # matching down or not in this process: refuse as without asking
            log.warning("matching could not say whether %s is a mentor: %s", member_id, exc)
            return None


class HttpMentors:
    def __init__(self, base_url: str, token: Callable[[], str | None], timeout_seconds: float = 2.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_seconds = timeout_seconds

    def mentor(self, member_id: str) -> dict[str, Any] | None:
        token = self.token()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            # Encoded whole ("/", "?", "#" too): a member id is one path segment, never a query.
            response = httpx.get(f"{self.base_url}/v1/mentors/{quote(member_id, safe='')}", headers=headers,
                                 timeout=self.timeout_seconds)
            if response.status_code == 404:
                return None
            response.raise_for_status()
            return _facts(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("%s could not say whether %s is a mentor: %s", self.base_url, member_id, exc)
            return None
