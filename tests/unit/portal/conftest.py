"""The portal through `connect serve`'s site, in-process: an HTTPS test client (the session cookie
is `Secure`) and a sign-in that walks the real authorization-code + PKCE flow."""

from __future__ import annotations

import re
from html import unescape
from typing import Any, Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from connect.bootstrap import Container
from services.matching.domain.profiles import MenteeProfile, MentorProfile

BASE = "https://testserver"


@pytest.fixture
def site_container(make_container: Callable[..., Container]) -> Container:
    return make_container(portal_url=BASE)


@pytest.fixture
def browser(site_container: Container) -> Iterator[Callable[[], TestClient]]:
    """`browser()` is a new visitor: a client with its own cookie jar on the same site."""
    from connect.web import create_site

    site = create_site(site_container)
    clients: list[TestClient] = []

    def new() -> TestClient:
        client = TestClient(site, base_url=BASE, follow_redirects=True)
        client.__enter__()
        clients.append(client)
        return client

    yield new
    for client in clients:
        client.__exit__(None, None, None)


def form_fields(html: str, action: str) -> dict[str, str]:
    """The named fields of the first form posting to `action`."""
    match = re.search(r'<form method="post" action="%s"[^>]*>(.*?)</form>' % re.escape(action), html, re.S)
    assert match, f"no form posting to {action}"
    return {name: unescape(value) for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', match.group(1))}


def sign_in(client: TestClient, member_id: str, name: str | None = None, roles_account: str | None = None,
            next_path: str = "/") -> Any:
    """Through /sign-in, the development provider's page (the free-form member) and the callback."""
    page = client.get("/sign-in", params={"next": next_path})
    assert page.status_code == 200 and "Development sign-in" in page.text, page.text[:500]
    authorize = str(page.url)
    fields = {k: v for k, v in form_fields(page.text.split("<h2>Another member</h2>")[1], "authorize").items()}
    fields.update({"member_id": member_id, "name": name or f"Member {member_id}", "email": ""})
    return client.post(authorize.split("?")[0], data=fields)


def mint_headers(container: Container, member_id: str, name: str | None = None) -> dict[str, str]:
    assert container.dev_issuer is not None
    token = container.dev_issuer.mint(member_id, name or f"Member {member_id}", f"{member_id.lower()}@example.org")
    return {"Authorization": f"Bearer {token}"}


def import_member(container: Container, member_id: str, name: str, mentor: MentorProfile | None = None,
                  mentee: MenteeProfile | None = None) -> None:
    container.service("matching").import_members([(member_id, name, f"{member_id.lower()}@example.org", mentor,
                                                   mentee)])


def propose_pair(container: Container, deliver: Callable[..., int], client: TestClient, mentee: tuple[str, str],
                 mentor: tuple[str, str], *, accept: bool = False) -> str:
    """A mentee and a mentor (id, name) with a proposal between them, accepted when `accept`; its id."""
    import_member(container, *mentor, mentor=MentorProfile(headline="Claims", expertise=["claims"]))
    import_member(container, *mentee, mentee=MenteeProfile(goals="Learn", areas_sought=["claims"]))
    deliver()
    made = client.post("/v1/proposals", headers=mint_headers(container, *mentee),
                       json={"mentor_id": mentor[0], "message": "Hello", "duration_months": 3})
    assert made.status_code == 201, made.text
    relationship = made.json()["id"]
    if accept:
        assert client.post(f"/v1/relationships/{relationship}/accept",
                           headers=mint_headers(container, *mentor)).status_code == 200
    return relationship


@pytest.fixture
def accepted(site_container: Container, deliver: Callable[..., int], client: TestClient) -> str:
    """Mentee H1 and mentor H2 in an accepted relationship; its id."""
    return propose_pair(site_container, deliver, client, ("H1", "Mentee One"), ("H2", "Mentor Two"), accept=True)
