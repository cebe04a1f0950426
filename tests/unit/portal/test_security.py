"""The portal's defences: CSRF on every form, escaped output, other pairs' pages out of reach, a
session renewed at sign-in, and the headers that keep scripts and frames out."""

from __future__ import annotations

import base64
import json
import re

import pytest

from portal import account, relationships, search, sign_in as sign_in_module, support, workspace
from services.matching.domain.profiles import MenteeProfile, MentorProfile
from tests.unit.portal.conftest import import_member, mint_headers, propose_pair, sign_in

COOKIE = "connect_session"
POST_MODULES = (sign_in_module, account, search, relationships, workspace, support)


def _session(cookie: str) -> dict:
    payload = cookie.split(".")[0]
    return json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))


def test_session_is_renewed_at_sign_in_and_the_old_cookie_is_worthless(browser):
    visitor = browser()
    visitor.get("/sign-in", follow_redirects=False)
    before = visitor.cookies.get(COOKIE)
    assert before and "member" not in _session(before)
    signed = sign_in(visitor, "N1", "New Member")
    assert signed.url.path == "/account"
    after = visitor.cookies.get(COOKIE)
    old, new = _session(before), _session(after)
    assert new["member"]["id"] == "N1"
    assert new["sid"] != old.get("sid") and new["csrf"] != old.get("csrf")
    assert not any(key.startswith("_state_") for key in new), "sign-in state outlived the sign-in"
    # Someone who planted or kept the pre-sign-in cookie is not signed in with it.
    attacker = browser()
    attacker.cookies.set(COOKIE, before, domain="testserver")
    answer = attacker.get("/account", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in")
    # The token in the cookie is sealed: the cookie does not show it.
    assert "eyJ" not in json.dumps(new["token"])


def test_session_cookie_flags(browser):
    visitor = browser()
    answer = visitor.get("/sign-in", follow_redirects=False)
    cookie = answer.headers["set-cookie"].lower()
    assert cookie.startswith(COOKIE + "=")
    for flag in ("httponly", "secure", "samesite=lax", "path=/"):
        assert flag in cookie, cookie


def test_sign_out_ends_the_session(browser):
    member = browser()
    sign_in(member, "N2")
    token = re.search(r'name="csrf_token" value="([^"]+)"', member.get("/account").text).group(1)
    assert member.post("/sign-out", data={"csrf_token": token}).url.path == "/"
    answer = member.get("/account", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in")


def _post_routes():
    for module in POST_MODULES:
        for route in module.router.routes:
            if "POST" in getattr(route, "methods", ()):
                yield re.sub(r"\{[^}]+\}", "x", route.path)


def test_every_form_needs_the_session_csrf_token(browser):
    member = browser()
    sign_in(member, "N3")
    paths = sorted(set(_post_routes()))
    assert len(paths) >= 20, paths
    for path in paths:
        for data in ({}, {"csrf_token": "not-the-token"}):
            answer = member.post(path, data=data, follow_redirects=False)
            assert answer.status_code == 403, (path, data, answer.status_code)
            assert "This form has expired" in answer.text


def test_every_form_on_every_page_carries_the_token(browser, site_container, deliver):
    """The pages a member reaches render their forms with the session's CSRF token."""
    member = browser()
    sign_in(member, "N4")
    token = member.cookies.get(COOKIE)
    csrf = _session(token)["csrf"]
    for path in ("/account", "/profile/mentee/edit", "/support", "/account/delete"):
        html = member.get(path).text
        forms = re.findall(r'<form method="post".*?</form>', html, re.S)
        assert forms, path
        for form in forms:
            assert f'name="csrf_token" value="{csrf}"' in form, (path, form[:200])


def test_output_is_escaped(browser, site_container, deliver):
    import_member(site_container, "M9", "Eve <b>Bold</b>", mentor=MentorProfile(
        headline="<img src=x onerror=alert(1)>", bio="<script>alert('bio')</script>", expertise=["claims"]))
    import_member(site_container, "E9", "Mentee Nine", mentee=MenteeProfile(goals="x", areas_sought=["claims"]))
    deliver()
    member = browser()
    sign_in(member, "E9", "Mentee Nine")
    page = member.get("/mentors/M9").text
    assert "<script>alert('bio')</script>" not in page and "&lt;script&gt;alert(&#39;bio&#39;)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<b>Bold</b>" not in page and "Eve &lt;b&gt;Bold&lt;/b&gt;" in page


@pytest.mark.parametrize("suffix", ["", "/dashboard", "/first-conversation", "/tools", "/tools/swot/new",
                                    "/meetings", "/messages", "/edit"])
def test_a_member_cannot_reach_another_pairs_pages(browser, site_container, deliver, client, suffix):
    relationship = propose_pair(site_container, deliver, client, ("E1", "Mentee One"), ("M1", "Mentor One"))
    insider = browser()
    sign_in(insider, "E1", "Mentee One")
    assert insider.get(f"/relationships/{relationship}").status_code == 200
    outsider = browser()
    sign_in(outsider, "X1", "Someone Else")
    answer = outsider.get(f"/relationships/{relationship}{suffix}")
    assert answer.status_code == 404 and "Page not found" in answer.text
    assert "Hello" not in answer.text


def test_another_pairs_actions_are_refused(browser, site_container, deliver, client):
    relationship = propose_pair(site_container, deliver, client, ("E1", "Mentee One"), ("M1", "Mentor One"))
    outsider = browser()
    sign_in(outsider, "X2")
    csrf = _session(outsider.cookies.get(COOKIE))["csrf"]
    answer = outsider.post(f"/relationships/{relationship}/action",
                           data={"csrf_token": csrf, "action": "withdraw"}, follow_redirects=False)
    assert answer.status_code == 404
    still = client.get(f"/v1/relationships/{relationship}", headers=mint_headers(site_container, "E1"))
    assert still.json()["status"] == "pending"


def test_support_pages_are_for_customer_service_only(browser):
    member = browser()
    sign_in(member, "N5")
    assert member.get("/support/queue").status_code == 404


@pytest.mark.parametrize("path", ["/", "/help/faq", "/sign-in", "/no-such-page"])
def test_headers_keep_inline_scripts_and_frames_out(browser, path):
    answer = browser().get(path)
    csp = answer.headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    # /sign-in ends on the development provider's page, which allows no script at all.
    scripts = directives.get("script-src", directives.get("default-src"))
    assert scripts in ("'self'", "'none'") and "unsafe-eval" not in csp
    assert directives["frame-ancestors"] == "'none'"
    assert directives.get("object-src", directives.get("default-src")) == "'none'"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_pages_carry_no_inline_script(browser):
    """The CSP forbids inline scripts, so none may be written: every page's scripts are files."""
    page = browser().get("/help").text
    assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", page)
    assert not re.search(r"\son[a-z]+=", page)  # no inline event handlers


def test_the_api_keeps_its_own_paths(browser):
    visitor = browser()
    assert visitor.get("/healthz").json() == {"status": "ok"}
    unknown = visitor.get("/v1/no-such-thing")
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith("application/problem+json")
