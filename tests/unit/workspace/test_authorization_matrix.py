"""Every id-bearing route of the workspace (and the relationship routes it builds on), called by
the owner (the mentee who proposed), the partner (the mentor), a stranger and a support user:
only the allowed callers succeed; strangers get 404 and learn nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable

import pytest

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

    def new_request() -> str:
        made = client.post("/v1/support-requests", headers=pair.mentee,
                           json={"kind": "other", "relationship_id": pair.id, "message": "help"})
        return f"/v1/support-requests/{made.json()['id']}"

    return pair, headers, new_meeting, tool, new_request, start


def _routes(pair: Any, new_meeting: Callable[[], str], tool: dict[str, Any], new_request: Callable[[], str],
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
        ("POST", fixed(url + "/complete"), None, outsiders),
        ("POST", fixed(url + "/withdraw"), None, outsiders),
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
