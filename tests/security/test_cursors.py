"""Every cursor the API hands out is opaque and tamper-proof: signed with the server's key, bound
to the member who got it and to the query it continues, and every number in it bounded. A bad,
foreign, tampered or expired-key cursor is a 400 problem naming the field, decided before any
search engine or database query runs (issue 12, finding 1: a forged search cursor once made
tantivy abort the whole process)."""

from __future__ import annotations

import base64
import json
import stat
from typing import Any

import pytest

from connect.bootstrap import build_container
from connect.settings import Settings
from tests.security.conftest import assert_problem, error_paths

SEARCH = {"criteria": {"expertise": ["claims"]}}


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def tampered(cursor: str, number: int = 2 ** 70) -> str:
    """The cursor with every whole number in its readable part replaced by `number`, the rest
    (a signature, if any) left as it was: what an attacker who decodes the cursor would try."""
    readable, dot, rest = cursor.partition(".")
    data = json.loads(_b64decode(readable))

    def swap(value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return number
        if isinstance(value, list):
            return [swap(v) for v in value]
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        return value

    return _b64encode(json.dumps(swap(data)).encode()) + dot + rest


@pytest.fixture
def engine_calls(container, monkeypatch) -> list[Any]:
    """Every query that reaches the mentor index."""
    index = container.service("matching").index
    calls: list[Any] = []
    real = index.search

    def recording(query: Any) -> Any:
        calls.append(query)
        return real(query)

    monkeypatch.setattr(index, "search", recording)
    return calls


def first_page(client, auth, member_id: str = "SEEKER", **body: Any) -> dict[str, Any]:
    response = client.post("/v1/mentors/search", json={**SEARCH, "page": {"size": 2}, **body},
                           headers=auth(member_id))
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["next_cursor"], page
    return page


def test_a_tampered_search_cursor_is_refused_before_the_engine_runs(client, auth, mentors, engine_calls):
    cursor = first_page(client, auth)["next_cursor"]
    for number in (2 ** 70, 2 ** 40, -1):
        engine_calls.clear()
        response = client.post("/v1/mentors/search", headers=auth("SEEKER"),
                               json={**SEARCH, "page": {"size": 2, "cursor": tampered(cursor, number)}})
        body = assert_problem(response, 400)
        assert body["type"].endswith("/invalid-cursor")
        assert error_paths(response) == ["page.cursor"]
        assert engine_calls == []


def test_even_a_validly_signed_cursor_cannot_page_past_the_documented_depth(client, auth, mentors, container,
                                                                            engine_calls):
    """A leaked key must not bring back finding 1: the depth is a rule of the search itself."""
    from services.matching.domain.search import MAX_SEARCH_DEPTH, build_search

    binding = build_search(**SEARCH, searcher_id="SEEKER").fingerprint
    cursor = first_page(client, auth)["next_cursor"]
    values = container.cursors.open(cursor, kind="search", member_id="SEEKER", query=binding, path="page.cursor")
    for deep_values in ({**values, "n": MAX_SEARCH_DEPTH}, {**values, "n": 2 ** 70}, {**values, "s": 1e308}):
        deep = container.cursors.seal(deep_values, kind="search", member_id="SEEKER", query=binding)
        engine_calls.clear()
        response = client.post("/v1/mentors/search", json={**SEARCH, "page": {"size": 2, "cursor": deep}},
                               headers=auth("SEEKER"))
        assert_problem(response, 400)
        assert error_paths(response) == ["page.cursor"]
        assert engine_calls == []


def test_paging_stops_at_the_documented_depth(client, auth, mentors, monkeypatch):
    from services.matching.domain import search

    monkeypatch.setattr(search, "MAX_SEARCH_DEPTH", 4)
    page = first_page(client, auth)
    second = client.post("/v1/mentors/search", json={**SEARCH, "page": {"size": 3, "cursor": page["next_cursor"]}},
                         headers=auth("SEEKER")).json()
    assert len(second["results"]) == 3 and second["total"] == 7
    assert second["next_cursor"] is None  # 5 returned: the next page would start past the depth


def test_a_search_cursor_belongs_to_its_member_and_its_query(client, auth, mentors):
    cursor = first_page(client, auth)["next_cursor"]
    foreign = client.post("/v1/mentors/search", json={**SEARCH, "page": {"size": 2, "cursor": cursor}},
                          headers=auth("SOMEONE-ELSE"))
    assert_problem(foreign, 400)
    other_query = client.post("/v1/mentors/search", json={"criteria": {"expertise": ["claims"]}, "text": "lead",
                                                          "page": {"size": 2, "cursor": cursor}},
                              headers=auth("SEEKER"))
    assert_problem(other_query, 400)
    assert error_paths(other_query) == ["page.cursor"]
    own = client.post("/v1/mentors/search", json={**SEARCH, "page": {"size": 2, "cursor": cursor}},
                      headers=auth("SEEKER"))
    assert own.status_code == 200 and len(own.json()["results"]) == 2


def test_garbage_cursors_are_400_everywhere(client, auth, pair):
    for garbage in ("zzz", "not-a-cursor", "x" * 5000, "a.b", "..", "eyJuIjoxfQ"):
        search = client.post("/v1/mentors/search", json={"page": {"cursor": garbage}}, headers=pair.mentee)
        assert_problem(search, 400)
        assert error_paths(search) == ["page.cursor"]
        for url in ("/v1/relationships", "/v1/dashboard", f"{pair.url}/messages"):
            listed = client.get(url, params={"cursor": garbage}, headers=pair.mentee)
            assert_problem(listed, 400)
            assert error_paths(listed) == ["query.cursor"], garbage


def _relationships(client, propose, count: int = 3) -> Any:  # type: ignore[no-untyped-def]
    pairs = [propose("M1", f"M{n}", accept=False) for n in range(2, 2 + count)]
    return pairs[0].mentee, [p.id for p in pairs]


def test_the_relationships_cursor_is_tamper_proof_and_bound(client, auth, propose):
    mentee, _ = _relationships(client, propose)
    page = client.get("/v1/relationships", params={"limit": 1}, headers=mentee).json()
    cursor = page["next_cursor"]
    assert cursor
    assert client.get("/v1/relationships", params={"limit": 1, "cursor": cursor}, headers=mentee).status_code == 200
    for bad, headers, params in [
        (tampered(cursor), mentee, {}),
        (cursor, auth("M9"), {}),  # another member
        (cursor, mentee, {"role": "mentor"}),  # another listing
        (cursor, mentee, {"status": "accepted"}),
    ]:
        response = client.get("/v1/relationships", params={"limit": 1, "cursor": bad, **params}, headers=headers)
        assert_problem(response, 400)
        assert error_paths(response) == ["query.cursor"]


def test_the_messages_cursor_is_tamper_proof_and_bound(client, auth, propose):
    first = propose("M1", "M2")
    second = propose("M1", "M3")
    for n in range(3):
        assert client.post(f"{first.url}/messages", json={"body": f"hello {n}"}, headers=first.mentee).status_code == 201
    cursor = client.get(f"{first.url}/messages", params={"limit": 1}, headers=first.mentee).json()["next_cursor"]
    assert cursor
    assert client.get(f"{first.url}/messages", params={"limit": 1, "cursor": cursor},
                      headers=first.mentor).status_code == 400  # the partner did not get this cursor
    for url, bad in [(first.url, tampered(cursor)), (second.url, cursor)]:
        response = client.get(f"{url}/messages", params={"limit": 1, "cursor": bad}, headers=first.mentee)
        assert_problem(response, 400)
        assert error_paths(response) == ["query.cursor"]
    assert client.get(f"{first.url}/messages", params={"limit": 1, "cursor": cursor},
                      headers=first.mentee).status_code == 200


def test_the_key_is_kept_under_var_and_shared_by_every_process_on_it(tmp_path):
    one = build_container(Settings(var_dir=tmp_path))
    sealed = one.cursors.seal({"n": 1}, kind="k", member_id="M1")
    key_file = tmp_path / "cursor-key"
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # Another process (or a restart) on the same folder reads the same key.
    two = build_container(Settings(var_dir=tmp_path))
    assert two.cursors.open(sealed, kind="k", member_id="M1", path="cursor") == {"n": 1}
    # A configured secret wins, and a cursor signed with any other key is refused.
    configured = build_container(Settings(var_dir=tmp_path, cursor_secret="s3cret-for-every-api-process"))
    from connect.cursors import InvalidCursor

    with pytest.raises(InvalidCursor):
        configured.cursors.open(sealed, kind="k", member_id="M1", path="cursor")
    same = build_container(Settings(var_dir=tmp_path / "elsewhere", cursor_secret="s3cret-for-every-api-process"))
    resealed = configured.cursors.seal({"n": 2}, kind="k", member_id="M1")
    assert same.cursors.open(resealed, kind="k", member_id="M1", path="cursor") == {"n": 2}
    for container in (one, two, configured, same):
        container.close()
