"""What the API refuses since issue 12 (NUL and control characters in text, ids over 64
characters or with control characters, forged cursors) reaches the portal as a problem document:
the member sees the refusal on the page they were on, never a 500, and nothing is stored."""

from __future__ import annotations

import re
from html import unescape

from tests.unit.portal.conftest import import_member, mint_headers, sign_in

COOKIE = "connect_session"


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def test_a_message_with_control_characters_is_refused_on_the_page(browser, site_container, client, accepted):
    member = browser()
    sign_in(member, "H1", "Mentee One")
    for hostile in ("Hello\x00there", "Hello \x1b[31mthere", "Hello\x7fthere"):
        page = member.get(f"/relationships/{accepted}/messages")
        answer = member.post(f"/relationships/{accepted}/messages",
                             data={"csrf_token": _csrf(page.text), "body": hostile})
        assert answer.status_code == 422, answer.text[:500]
        assert "must not contain" in unescape(answer.text)
    stored = client.get(f"/v1/relationships/{accepted}/messages", headers=mint_headers(site_container, "H1"))
    assert stored.json()["items"] == []


def test_a_profile_with_a_nul_is_refused_field_by_field(browser, client, site_container):
    member = browser()
    sign_in(member, "H3", "New Member")
    page = member.get("/profile/mentee/edit")
    answer = member.post("/profile/mentee/edit", data={"csrf_token": _csrf(page.text), "goals": "Lead\x00a team",
                                                       "country": "GB", "city": "Lon\x00don"})
    assert answer.status_code == 422, answer.text[:500]
    shown = unescape(answer.text)
    assert "must not contain a NUL character" in shown
    assert "must be one line without control characters" in shown  # the city is a Line
    stored = client.get("/v1/members/me/mentee-profile", headers=mint_headers(site_container, "H3"))
    assert stored.status_code == 404


def test_a_search_with_control_characters_shows_the_refusal(browser):
    member = browser()
    sign_in(member, "H4", "Searcher")
    answer = member.get("/search", params={"text": "claims\x00", "run": "1"})
    assert answer.status_code == 200, answer.text[:500]
    assert "must be one line without control characters" in unescape(answer.text) \
        or "must not contain a NUL character" in unescape(answer.text)


def test_hostile_ids_in_portal_paths_get_a_page_not_a_crash(browser):
    """Before the portal encoded ids into API paths, a NUL here was a 500 (httpx refuses to make
    the request) and `?` or `..` changed which API request was made."""
    member = browser()
    sign_in(member, "H5", "Visitor")
    for path in ("/relationships/%s", "/relationships/%s/dashboard", "/relationships/%s/messages", "/mentors/%s",
                 "/support/requests/%s"):
        for hostile_id in ("R" * 65, "a%00b", "a%1bb", "a%E2%80%A8b", "x%3Flimit=1", "%2E%2E"):
            answer = member.get(path % hostile_id)
            assert answer.status_code in (404, 422), (path % hostile_id, answer.status_code, answer.text[:500])
            assert answer.headers["content-type"].startswith("text/html")


def test_a_forged_cursor_gets_a_page_not_a_crash(browser, accepted):
    member = browser()
    sign_in(member, "H1", "Mentee One")
    answer = member.get(f"/relationships/{accepted}/messages", params={"cursor": "eyJmb3JnZWQiOnRydWV9"})
    assert answer.status_code == 400, answer.text[:500]
    assert answer.headers["content-type"].startswith("text/html")
    assert member.get(f"/relationships/{accepted}/messages").status_code == 200
