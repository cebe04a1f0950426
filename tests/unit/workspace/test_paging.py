"""One way to page: every list answers `items` + `next_cursor`, names the next page in a `Link`
header, takes `limit` (1 to 100) and `cursor` alike, and walks every item exactly once."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest


def walk(client: Any, url: str, headers: dict[str, str], limit: int = 2) -> list[dict[str, Any]]:
    """Follow `Link: rel="next"` from the first page; check it agrees with `next_cursor` each time."""
    items: list[dict[str, Any]] = []
    page = client.get(url, params={"limit": limit}, headers=headers)
    while True:
        assert page.status_code == 200, page.text
        body = page.json()
        assert set(body) >= {"items", "next_cursor"} and len(body["items"]) <= limit
        items += body["items"]
        link = page.headers.get("Link")
        if body["next_cursor"] is None:
            assert link is None
            return items
        target = re.fullmatch(r'<([^>]+)>; rel="next"', link)
        assert target is not None, link
        assert body["next_cursor"] in target.group(1).replace("%3D", "=")
        page = client.get(target.group(1), headers=headers)


def test_every_list_pages_the_same_way(client, pair, propose, auth, clock):
    for i in range(3):
        propose("M1", f"N{i}")  # more relationships for M1
        start = (clock.now() + timedelta(days=2 + i)).isoformat()
        assert client.post(pair.url + "/meetings", headers=pair.mentee,
                           json={"starts_at": start, "duration_minutes": 30, "mode": "video"}).status_code == 201
        assert client.post(pair.url + "/tools/swot", headers=pair.mentee,
                           json={"strengths": [f"s{i}"]}).status_code == 201
        assert client.post(pair.url + "/messages", headers=pair.mentee, json={"body": f"m{i}"}).status_code == 201
        assert client.post("/v1/support-requests", headers=pair.mentee,
                           json={"kind": "other", "message": f"help {i}"}).status_code == 201
        clock.advance(timedelta(minutes=1))

    lists = {"/v1/relationships": 4, "/v1/dashboard": 4, pair.url + "/meetings": 3, pair.url + "/tools/swot": 3,
             pair.url + "/messages": 3, "/v1/support-requests": 3}
    for url, count in lists.items():
        items = walk(client, url, pair.mentee)
        assert len(items) == count and len({item["id"] for item in items}) == count, url
    starts = [m["starts_at"] for m in walk(client, pair.url + "/meetings", pair.mentee)]
    assert starts == sorted(starts)


@pytest.mark.parametrize("limit", ["0", "101", "x"])
def test_limits_are_validated_alike(client, pair, limit):
    for url in ("/v1/relationships", "/v1/dashboard", pair.url + "/meetings", pair.url + "/tools/goals",
                pair.url + "/messages", "/v1/support-requests"):
        refused = client.get(url, params={"limit": limit}, headers=pair.mentee)
        assert refused.status_code == 422, (url, refused.text)
        assert [e["path"] for e in refused.json()["errors"]] == ["query.limit"], url


def test_a_cursor_continues_only_its_own_list(client, pair, propose, clock):
    for i in range(2):
        assert client.post(pair.url + "/tools/swot", headers=pair.mentee, json={"strengths": [f"s{i}"]}).status_code == 201
        clock.advance(timedelta(minutes=1))
    cursor = client.get(pair.url + "/tools/swot", params={"limit": 1}, headers=pair.mentee).json()["next_cursor"]
    assert cursor
    other_kind = client.get(pair.url + "/tools/gstar", params={"cursor": cursor}, headers=pair.mentee)
    assert other_kind.status_code == 400 and other_kind.json()["errors"][0]["path"] == "query.cursor"
    meetings = client.get(pair.url + "/meetings", params={"cursor": cursor}, headers=pair.mentee)
    assert meetings.status_code == 400
