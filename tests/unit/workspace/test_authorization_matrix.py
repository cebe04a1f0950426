"""Every id-bearing route of the workspace (and the relationship routes it builds on), called by
the owner (the mentee who proposed), the partner (the mentor), a stranger and a support user:
only the allowed callers succeed; strangers get 404 and learn nothing.  The matrix must name every
route with a relationship id (checked against the app's routes, so a new route cannot slip by),
and each party is refused the other's moves.  Support never reads message bodies or tool
contents: here they get 404 on those routes; tests/unit/workspace/test_account_api.py checks that
their metadata view carries no member's words.  Part of the security suite (docs/security.md)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable

import pytest
from fastapi.routing import APIRoute

OWNER, PARTNER, STRANGER, SUPPORT = "owner", "partner", "stranger", "support"
PARTIES = {OWNER, PARTNER}


@pytest.fixture
def world(client, pair, auth, clock):
    headers = {OWNER: pair.mentee, PARTNER: pair.mentor, STRANGER: auth("M9", name="Eve Stranger"),
               SUPPORT: auth("S1", name="Sam Support", roles=["support"])}
    start = lambda: (clock.now() + timedelta(days=3)).isoformat()  # noqa: E731

    def new_meeting() -> str:
        made = client.post(pair.url + "/meetings", headers=pair.mentee,
                           json={"starts_at": start(), "duration_minutes": 30, "mode": "video"})
        return f"{pair.url}/meetings/{made.json()['id']}"

    tool = client.post(pair.url + "/tools/swot", headers=pair.mentee, json={"strengths": ["a"]}).json()

    def new_request(kind: str = "other") -> str:
        made = client.post("/v1/support-requests", headers=pair.mentee,
                           json={"kind": kind, "relationship_id": pair.id, "message": "help"})
        return f"/v1/support-requests/{made.json()['id']}"

    return pair, headers, new_meeting, tool, new_request, start


def _routes(pair: Any, new_meeting: Callable[[], str], tool: dict[str, Any], new_request: Callable[..., str],
            start: Callable[[], str]) -> list[tuple[str, Callable[[], str], Any, dict[str, int]]]:
    """(method, path factory, body, expected status class per caller: 2 = success, else the status)."""
    url = pair.url
    tool_url = f"{url}/tools/swot/{tool['id']}"
    fixed = lambda path: (lambda: path)  # noqa: E731
    parties = {OWNER: 2, PARTNER: 2, STRANGER: 404, SUPPORT: 404}
    outsiders = {STRANGER: 404, SUPPORT: 404}  # the parties' own moves are tested with the state machine
    return [
        ("GET", fixed(url), None, parties),
        ("GET", fixed(url + "/dashboard"), None, parties),
        ("GET", fixed(url + "/meetings"), None, parties),
        ("POST", fixed(url + "/meetings"), lambda: {"starts_at": start(), "duration_minutes": 30, "mode": "email"},
         parties),
        ("GET", new_meeting, None, parties),
        ("PATCH", new_meeting, {"agenda": "Updated"}, parties),
        ("DELETE", new_meeting, None, parties),
        ("GET", fixed(url + "/first-conversation"), None, parties),
        ("PUT", fixed(url + "/agreement"), {"meeting_frequency": "Monthly"}, parties),
        ("GET", fixed(url + "/agreement"), None, parties),
        ("GET", fixed(url + "/tools"), None, parties),
        ("GET", fixed(url + "/tools/swot"), None, parties),
        ("POST", fixed(url + "/tools/gstar"), {"goals": "g"}, parties),
        ("GET", fixed(tool_url), None, parties),
        ("PUT", fixed(tool_url), lambda: {"strengths": [str(start())]}, parties),
        ("PUT", fixed(url + "/learning-outcomes"), {"outcomes": "Listening"}, parties),
        ("GET", fixed(url + "/learning-outcomes"), None, parties),
        ("GET", fixed(url + "/messages"), None, parties),
        ("POST", fixed(url + "/messages"), {"body": "hello"}, parties),
        ("GET", fixed(f"/v1/support/relationships/{pair.id}"), None,
         {OWNER: 404, PARTNER: 404, STRANGER: 404, SUPPORT: 2}),
        ("GET", new_request, None, {OWNER: 2, PARTNER: 404, STRANGER: 404, SUPPORT: 2}),
        ("POST", lambda: new_request() + "/resolve", {"outcome": "done"},
         {OWNER: 403, PARTNER: 404, STRANGER: 404, SUPPORT: 2}),
        ("POST", lambda: new_request("contact_partner") + "/partner-messages", {"body": "Please get in touch"},
         {OWNER: 403, PARTNER: 404, STRANGER: 404, SUPPORT: 2}),
        ("POST", fixed(url + "/complete"), None, outsiders),
        ("POST", fixed(url + "/withdraw"), None, outsiders),
        ("POST", fixed(url + "/accept"), None, outsiders),
        ("POST", fixed(url + "/reject"), None, outsiders),
        ("POST", fixed(url + "/reopen"), None, outsiders),
        ("PATCH", fixed(url + "/proposal"), {"goals": "x"}, outsiders),
        ("POST", fixed(url + "/nudge"), None, parties),  # last: moves the clock (see below)
    ]


def test_only_allowed_callers_succeed_and_strangers_get_404(client, world, clock):
    pair, headers, new_meeting, tool, new_request, start = world
    failures = []
    for method, path_of, body, expected in _routes(pair, new_meeting, tool, new_request, start):
        if method == "POST" and path_of().endswith("/nudge"):
            clock.advance(timedelta(days=15))  # both partners quiet long enough to be nudged
        for caller in (STRANGER, SUPPORT, OWNER, PARTNER):
            if caller not in expected:
                continue
            path = path_of()
            extra = {"If-Match": "*"} if method in ("PUT", "PATCH") else {}
            payload = body() if callable(body) else body
            response = client.request(method, path, headers={**headers[caller], **extra}, json=payload)
            want = expected[caller]
            ok = 200 <= response.status_code < 300 if want == 2 else response.status_code == want
            if not ok:
                failures.append((method, path, caller, response.status_code, response.text[:160]))
            elif response.status_code == 404:
                assert response.headers["content-type"] == "application/problem+json"
    assert failures == []
    # Nothing the outsiders tried changed the relationship.
    assert client.get(pair.url, headers=pair.mentee).json()["status"] == "accepted"


def _template(app: Any, method: str, path: str) -> str | None:
    """The route template `path` reaches with `method` (None when none does)."""
    from fastapi.routing import iter_route_contexts
    from starlette.routing import Match

    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.matches(scope)[0] == Match.FULL:
            return route.path
    return None


def test_the_matrix_names_every_route_with_a_relationship_id(client, world):
    from fastapi.routing import iter_route_contexts

    pair, _headers, new_meeting, tool, new_request, start = world
    covered = {(method, _template(client.app, method, path_of())) for method, path_of, _body, _expected
               in _routes(pair, new_meeting, tool, new_request, start)}
    every = {(method, route.path) for route in (c.original_route for c in iter_route_contexts(client.app.routes))
             if isinstance(route, APIRoute) and "{relationship_id}" in route.path for method in route.methods}
    assert every - covered == set()


def test_each_party_is_refused_the_other_partys_moves(client, propose):
    pending = propose(accept=False)
    for action in ("accept", "reject"):  # the mentor's answers
        refused = client.post(f"{pending.url}/{action}", headers=pending.mentee)
        assert refused.status_code in (403, 409), refused.text
        assert refused.headers["content-type"] == "application/problem+json"
    edit = client.patch(f"{pending.url}/proposal", json={"goals": "Mine now"},
                        headers={**pending.mentor, "If-Match": "*"})  # the mentee's proposal
    assert edit.status_code in (403, 409), edit.text
    details = client.get(pending.url, headers=pending.mentee).json()
    assert details["status"] == "pending" and details["proposal"]["goals"] != "Mine now"
    assert client.post(f"{pending.url}/reject", headers=pending.mentor).status_code == 200
    reopen = client.post(f"{pending.url}/reopen", headers=pending.mentee)  # only the mentor may reopen
    assert reopen.status_code in (403, 409), reopen.text
    assert client.get(pending.url, headers=pending.mentee).json()["status"] == "rejected"
