"""The relationship workspace's pages as the member sees them, and what each asks the API: the
Tools page shows every kind of tool with its author from one API request (issue 18's speed
target), and says the tools are closed, not an error, before the proposal is accepted."""

from __future__ import annotations

import re
from collections import Counter
from html import unescape
from typing import Any

import pytest

from portal.connect_api import ConnectApi
from tests.unit.portal.conftest import mint_headers, propose_pair, sign_in


@pytest.fixture
def api_requests(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Each (method, API path) the portal sends, counted."""
    sent: Counter[str] = Counter()
    send = ConnectApi._send

    async def counted(self: ConnectApi, method: str, path: str, **kwargs: Any) -> Any:
        sent[f"{method} {path}"] += 1
        return await send(self, method, path, **kwargs)

    monkeypatch.setattr(ConnectApi, "_send", counted)
    return sent


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def test_the_tools_page_shows_every_kind_from_one_request(browser, site_container, client, accepted, api_requests):
    url = f"/v1/relationships/{accepted}/tools"
    mentee, mentor = mint_headers(site_container, "H1", "Mentee One"), mint_headers(site_container, "H2", "Mentor Two")
    assert client.post(url + "/swot", headers=mentee, json={"strengths": ["Claims"]}).status_code == 201
    assert client.post(url + "/goals", headers=mentor, json={"goal": "Pass the ACII exam"}).status_code == 201

    member = browser()
    sign_in(member, "H1", "Mentee One")
    api_requests.clear()
    page = member.get(f"/relationships/{accepted}/tools")
    assert page.status_code == 200, page.text[:300]
    assert [path for path in api_requests if "/relationships/" in path] == [
        f"GET /v1/relationships/{accepted}/tools"]
    assert api_requests[f"GET /v1/relationships/{accepted}/tools"] == 1
    shown = _text(page.text)
    assert "Tools with Mentor Two" in shown
    assert re.search(r"SWOT 1 — version 1, .+? by You", shown), shown
    assert re.search(r"Pass the ACII exam — version 1, .+? by Mentor Two", shown), shown
    assert "None yet." in shown.split("G-STAR", 1)[1]  # no G-STAR saved
    for kind in ("swot", "gstar", "goals"):
        assert f'href="/relationships/{accepted}/tools/{kind}/new"' in page.text

    # The partner's view names the mentee as the SWOT's author.
    partner = browser()
    sign_in(partner, "H2", "Mentor Two")
    seen = _text(partner.get(f"/relationships/{accepted}/tools").text)
    assert "Tools with Mentee One" in seen and re.search(r"SWOT 1 — version 1, .+? by Mentee One", seen), seen


def test_the_tools_page_before_acceptance_says_they_are_closed(browser, site_container, client, deliver):
    pending = propose_pair(site_container, deliver, client, ("H4", "Mentee Four"), ("H3", "Mentor Three"))
    member = browser()
    sign_in(member, "H4", "Mentee Four")
    page = member.get(f"/relationships/{pending}/tools")
    assert page.status_code == 200, page.text[:300]
    shown = _text(page.text)
    assert "Tools with Mentor Three" in shown and "The tools open once the proposal is accepted." in shown
    assert "Add a new" not in shown
