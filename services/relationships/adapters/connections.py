"""Adapters of the SharedConnections port: matching compares two members (its domain owns
the comparison), relationships only asks.

- `InProcessConnections` (embedded): the matching service's facade in this process.
- `HttpConnections` (distributed): matching's `GET /v1/members/{id}/shared-with/{other}`,
  asked with the service credential, short timeout.

Neither raises: without matching the first conversation opens with prompts and no connections.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import httpx

log = logging.getLogger(__name__)


class InProcessConnections:
    def __init__(self, matching: Callable[[], Any]) -> None:
        self._matching = matching  # resolved at call time: matching may be wired after us, or not at all

    def between(self, member_id: str, other_id: str) -> list[dict[str, Any]]:
        try:
            return self._matching().compare_members(member_id, other_id)
        except Exception as exc:  # matching down or not in this process: the first conversation still opens
            log.warning("no shared connections from matching: %s", exc)
            return []


class HttpConnections:
    def __init__(self, base_url: str, token: Callable[[], str | None], timeout_seconds: float = 2.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_seconds = timeout_seconds

    def between(self, member_id: str, other_id: str) -> list[dict[str, Any]]:
        token = self.token()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = httpx.get(f"{self.base_url}/v1/members/{member_id}/shared-with/{other_id}", headers=headers,
                                 timeout=self.timeout_seconds)
            response.raise_for_status()
            shared = response.json()["connections"]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            log.warning("no shared connections from %s: %s", self.base_url, exc)
            return []
        return shared if isinstance(shared, list) else []
