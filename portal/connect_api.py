"""The one client of Connect's public HTTP API that the portal has.

Every page talks to Connect through this module, so a change of the API's shapes (paging,
ETags, new endpoints) is absorbed here and nowhere else.  It speaks HTTP only: to a base URL in
the distributed shape, or in-process through an ASGI transport under `connect serve` (the same
requests, without a socket).  Errors come back as `ApiError` carrying the problem document.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx


@dataclass
class ApiError(Exception):
    status: int
    title: str = ""
    detail: str = ""
    type: str = ""
    errors: list[dict[str, Any]] = field(default_factory=list)
    extensions: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.title}: {self.detail}"

    def field_errors(self) -> dict[str, str]:
        """Validation errors by the last named part of their path (`location.country` -> `country`,
        `expertise.0` -> `expertise`): the form field they belong to."""
        found: dict[str, str] = {}
        for error in self.errors:
            parts = [p for p in str(error.get("path") or "").split(".") if p and not p.isdigit()]
            found.setdefault(parts[-1] if parts else "", str(error.get("message") or "is not valid"))
        return found


@dataclass
class Tagged:
    """A representation and its ETag (what `If-Match` must carry to change it)."""

    body: dict[str, Any]
    etag: str | None


_TAXONOMY: dict[str, Any] = {}


def _at(template: str, *segments: str) -> str:
    """An API path with ids from a portal URL in it, each percent-encoded whole: no character of
    an id (a NUL, `?`, `/`, a `..` segment) changes the request or stops httpx making it; the API
    then judges the id itself (connect/text.py)."""
    quoted = [quote(value, safe="") for value in segments]
    return template.format(*(value.replace(".", "%2E") if value in (".", "..") else value for value in quoted))


class ConnectApi:
    """The API as one member (their bearer token) sees it."""

    def __init__(self, http: httpx.AsyncClient, token: str | None) -> None:
        self.http = http
        self.token = token

    async def _send(self, method: str, path: str, *, json: Any = None, params: Any = None,
                    headers: dict[str, str] | None = None) -> httpx.Response:
        sent = dict(headers or {})
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        response = await self.http.request(method, path, json=json, params=params, headers=sent)
        if response.status_code >= 400:
            raise _error(response)
        return response

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return (await self._send(method, path, **kwargs)).json()

    async def _tagged(self, method: str, path: str, **kwargs: Any) -> Tagged:
        response = await self._send(method, path, **kwargs)
        return Tagged(response.json(), response.headers.get("etag"))

    # --- member and profiles ---------------------------------------------------------------

    async def me(self) -> dict[str, Any]:
        return await self._json("GET", "/v1/members/me")

    async def profiles(self) -> dict[str, dict[str, Any] | None]:
        """Which profiles the member holds.  (Two requests today: the API has no one call telling it.)"""
        mentor, mentee = await asyncio.gather(self.profile("mentor"), self.profile("mentee"))
        return {"mentor": mentor, "mentee": mentee}

    async def profile(self, kind: str) -> dict[str, Any] | None:
        try:
            return await self._json("GET", _at("/v1/members/me/{}-profile", kind))
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def put_profile(self, kind: str, body: dict[str, Any], etag: str | None = None) -> dict[str, Any]:
        """Create or replace a profile; with `etag`, only if it is still the version the form showed (412 if not)."""
        return await self._json("PUT", _at("/v1/members/me/{}-profile", kind), json=body, headers=_if_match(etag))

    async def set_availability(self, available: bool) -> dict[str, Any]:
        return await self._json("PUT", "/v1/members/me/mentor-profile/availability", json={"available": available})

    async def taxonomy(self) -> dict[str, list[dict[str, str]]]:
        """The controlled vocabularies; they change only with a release, so kept for ten minutes."""
        if _TAXONOMY.get("until", 0) < time.monotonic():
            _TAXONOMY["value"] = await self._json("GET", "/v1/taxonomy")
            _TAXONOMY["until"] = time.monotonic() + 600
        return _TAXONOMY["value"]

    async def delete_account(self) -> dict[str, Any]:
        return await self._json("DELETE", "/v1/members/me")

    # --- search and mentors --------------------------------------------------------------------

    async def search(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._json("POST", "/v1/mentors/search", json=body)

    async def mentor(self, member_id: str) -> dict[str, Any]:
        return await self._json("GET", _at("/v1/mentors/{}", member_id))

    # --- proposals and relationships -------------------------------------------------------------

    async def propose(self, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        return await self._json("POST", "/v1/proposals", json=body, headers={"Idempotency-Key": idempotency_key})

    async def relationships(self, *, role: str | None = None, statuses: list[str] | None = None,
                            cursor: str | None = None, limit: int = 20) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if role:
            params["role"] = role
        if statuses:
            params["status"] = ",".join(statuses)
        if cursor:
            params["cursor"] = cursor
        return await self._json("GET", "/v1/relationships", params=params)

    async def relationship(self, relationship_id: str) -> Tagged:
        return await self._tagged("GET", _at("/v1/relationships/{}", relationship_id))

    async def edit_proposal(self, relationship_id: str, etag: str, changes: dict[str, Any]) -> Tagged:
        return await self._tagged("PATCH", _at("/v1/relationships/{}/proposal", relationship_id), json=changes,
                                  headers={"If-Match": etag})

    async def transition(self, relationship_id: str, action: str, *, reason: str | None = None,
                         expected_status: str | None = None, idempotency_key: str | None = None) -> dict[str, Any]:
        body = {k: v for k, v in (("reason", reason), ("expected_status", expected_status)) if v}
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return await self._json("POST", _at("/v1/relationships/{}/{}", relationship_id, action), json=body,
                                headers=headers)

    # --- the workspace -------------------------------------------------------------------------

    async def dashboard(self, relationship_id: str) -> dict[str, Any]:
        return await self._json("GET", _at("/v1/relationships/{}/dashboard", relationship_id))

    async def my_dashboard(self, *, role: str | None = None, limit: int = 20) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if role:
            params["role"] = role
        return await self._json("GET", "/v1/dashboard", params=params)

    async def meetings(self, relationship_id: str) -> dict[str, Any]:
        """Every meeting of the relationship: the page shows them all, the API pages them."""
        return await self._every_page(_at("/v1/relationships/{}/meetings", relationship_id), {})

    async def meeting(self, relationship_id: str, meeting_id: str) -> dict[str, Any]:
        return await self._json("GET", _at("/v1/relationships/{}/meetings/{}", relationship_id, meeting_id))

    async def schedule_meeting(self, relationship_id: str, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        return await self._json("POST", _at("/v1/relationships/{}/meetings", relationship_id), json=body,
                                headers={"Idempotency-Key": idempotency_key})

    async def change_meeting(self, relationship_id: str, meeting_id: str, changes: dict[str, Any],
                             etag: str | None = None) -> dict[str, Any]:
        return await self._json("PATCH", _at("/v1/relationships/{}/meetings/{}", relationship_id, meeting_id),
                                json=changes, headers=_if_match(etag))

    async def cancel_meeting(self, relationship_id: str, meeting_id: str, reason: str | None,
                             etag: str | None = None) -> dict[str, Any]:
        return await self._json("DELETE", _at("/v1/relationships/{}/meetings/{}", relationship_id, meeting_id),
                                json={"reason": reason} if reason else None, headers=_if_match(etag))

    async def first_conversation(self, relationship_id: str) -> dict[str, Any]:
        return await self._json("GET", _at("/v1/relationships/{}/first-conversation", relationship_id))

    async def agreement(self, relationship_id: str) -> Tagged | None:
        try:
            return await self._tagged("GET", _at("/v1/relationships/{}/agreement", relationship_id))
        except ApiError as exc:
            if exc.status == 404 and exc.type.endswith("not-found") and "agreement" in exc.detail:
                return None
            raise

    async def put_agreement(self, relationship_id: str, body: dict[str, Any], etag: str | None) -> Tagged:
        return await self._tagged("PUT", _at("/v1/relationships/{}/agreement", relationship_id), json=body,
                                  headers=_if_match(etag))

    async def all_tools(self, relationship_id: str, limit: int = 100) -> dict[str, Any]:
        """Every kind's tools (up to `limit` of each) and the parties, in one request."""
        return await self._json("GET", _at("/v1/relationships/{}/tools", relationship_id), params={"limit": limit})

    async def tool(self, relationship_id: str, kind: str, tool_id: str) -> Tagged:
        return await self._tagged("GET", _at("/v1/relationships/{}/tools/{}/{}", relationship_id, kind, tool_id))

    async def create_tool(self, relationship_id: str, kind: str, body: dict[str, Any],
                          idempotency_key: str) -> dict[str, Any]:
        return await self._json("POST", _at("/v1/relationships/{}/tools/{}", relationship_id, kind), json=body,
                                headers={"Idempotency-Key": idempotency_key})

    async def amend_tool(self, relationship_id: str, kind: str, tool_id: str, body: dict[str, Any],
                         etag: str) -> Tagged:
        return await self._tagged("PUT", _at("/v1/relationships/{}/tools/{}/{}", relationship_id, kind, tool_id),
                                  json=body, headers={"If-Match": etag})

    async def learning_outcomes(self, relationship_id: str) -> dict[str, Any]:
        return await self._json("GET", _at("/v1/relationships/{}/learning-outcomes", relationship_id))

    async def put_learning_outcomes(self, relationship_id: str, outcomes: str) -> dict[str, Any]:
        return await self._json("PUT", _at("/v1/relationships/{}/learning-outcomes", relationship_id),
                                json={"outcomes": outcomes})

    async def messages(self, relationship_id: str, cursor: str | None = None, limit: int = 20) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        return await self._json("GET", _at("/v1/relationships/{}/messages", relationship_id), params=params)

    async def post_message(self, relationship_id: str, body: str, idempotency_key: str) -> dict[str, Any]:
        return await self._json("POST", _at("/v1/relationships/{}/messages", relationship_id), json={"body": body},
                                headers={"Idempotency-Key": idempotency_key})

    async def nudge(self, relationship_id: str, idempotency_key: str) -> dict[str, Any]:
        return await self._json("POST", _at("/v1/relationships/{}/nudge", relationship_id),
                                headers={"Idempotency-Key": idempotency_key})

    # --- CPD and support ----------------------------------------------------------------------

    async def cpd(self) -> dict[str, Any]:
        return await self._json("GET", "/v1/members/me/cpd")

    async def cpd_csv(self) -> httpx.Response:
        return await self._send("GET", "/v1/members/me/cpd", params={"format": "csv"})

    async def support_requests(self, status: str | None = None, limit: int = 50,
                               cursor: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if status:
            params["status"] = status
        if cursor:
            params["cursor"] = cursor
        return await self._json("GET", "/v1/support-requests", params=params)

    async def support_queue(self, status: str | None = None) -> dict[str, Any]:
        """The team's queue on one page."""
        return await self._every_page("/v1/support-requests", {"status": status} if status else {})

    async def _every_page(self, path: str, params: dict[str, Any], most: int = 500) -> dict[str, Any]:
        """A list the portal shows whole: the API's pages (at most 100 items each) followed through
        `next_cursor`, up to `most` items (`more` says whether some were left out)."""
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            query = {**params, "limit": 100, **({"cursor": cursor} if cursor else {})}
            page = await self._json("GET", path, params=query)
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor or len(items) >= most:
                return {"items": items[:most], "more": bool(cursor) or len(items) > most}

    async def support_request(self, request_id: str) -> dict[str, Any]:
        return await self._json("GET", _at("/v1/support-requests/{}", request_id))

    async def create_support_request(self, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        return await self._json("POST", "/v1/support-requests", json=body,
                                headers={"Idempotency-Key": idempotency_key})

    async def contact_partner(self, request_id: str, body: str, idempotency_key: str) -> dict[str, Any]:
        """Customer service writes to the requester's partner (a contact_partner request): emailed to them."""
        return await self._json("POST", _at("/v1/support-requests/{}/partner-messages", request_id),
                                json={"body": body}, headers={"Idempotency-Key": idempotency_key})

    async def resolve_support_request(self, request_id: str, outcome: str, note: str | None) -> dict[str, Any]:
        return await self._json("POST", _at("/v1/support-requests/{}/resolve", request_id),
                                json={"outcome": outcome, "note": note or None})

    async def support_relationship(self, relationship_id: str) -> dict[str, Any]:
        return await self._json("GET", _at("/v1/support/relationships/{}", relationship_id))


    # --- notifications ----------------------------------------------------------------------------

    async def notifications(self, cursor: str | None = None, limit: int = 20) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        return await self._json("GET", "/v1/notifications", params=params)

    async def mark_notifications_read(self, through: str) -> dict[str, Any]:
        """That entry and every older one."""
        return await self._json("POST", "/v1/notifications/read", json={"through": through})


def _if_match(etag: str | None) -> dict[str, str] | None:
    """`If-Match` naming the version a form was based on, when the form carried one."""
    return {"If-Match": etag} if etag else None


def _error(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    known = {"status", "title", "detail", "type", "errors", "instance"}
    return ApiError(status=response.status_code, title=str(body.get("title") or response.reason_phrase),
                    detail=str(body.get("detail") or ""), type=str(body.get("type") or ""),
                    errors=list(body.get("errors") or []),
                    extensions={k: v for k, v in body.items() if k not in known})
