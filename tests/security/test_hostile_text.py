"""Text PostgreSQL or email cannot carry (NUL, other control characters) is refused at the edge
with a 422 naming the field, identically on SQLite and PostgreSQL, and nothing is stored
(issue 12, finding 3). Every text field of every request model, query and path parameter
goes through the same validator: a structural check below keeps it so."""

from __future__ import annotations

import inspect
import typing
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Annotated, Literal, get_args, get_origin

import pytest
from fastapi.routing import APIRoute
from pydantic import AwareDatetime, BaseModel

from connect.text import is_text_check
from tests.security.conftest import assert_problem, error_paths


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def container(request, make_container):  # overrides the SQLite-only container of tests/conftest.py
    if request.param == "postgres":
        return make_container(database_url=request.getfixturevalue("pg_database"))
    return make_container()


def _cases(pair: Any, start: str) -> list[tuple[str, str, Any, str]]:
    """(method, url, body, the field path the 422 must name)."""
    url = pair.url
    return [
        ("PUT", "/v1/members/me/mentor-profile", {"headline": "Claims\x00lead", "expertise": ["claims"]}, "headline"),
        ("PUT", "/v1/members/me/mentor-profile",
         {"headline": "Claims lead", "expertise": ["claims"], "interests": ["ok", "bad\x00"]}, "interests.1"),
        ("PUT", "/v1/members/me/mentor-profile",
         {"headline": "Claims lead", "expertise": ["claims"], "location": {"country": "GB", "city": "Lon\x00don"}},
         "location.city"),
        ("PUT", "/v1/members/me/mentee-profile", {"goals": "Exams\x00"}, "goals"),
        ("POST", "/v1/mentors/search", {"text": "claims\x00"}, "text"),
        ("POST", "/v1/mentors/search", {"criteria": {"interests": ["cy\x00cling"]}}, "criteria.interests"),
        ("POST", "/v1/proposals", {"mentor_id": "M2", "message": "Hi\x00", "duration_months": 3}, "message"),
        ("POST", "/v1/proposals", {"mentor_id": "M\x002", "message": "Hi", "duration_months": 3}, "mentor_id"),
        ("POST", f"{url}/complete", {"reason": "done\x00"}, "reason"),
        ("POST", f"{url}/meetings", {"starts_at": start, "duration_minutes": 30, "mode": "video",
                                     "agenda": "a\x00"}, "agenda"),
        ("POST", f"{url}/tools/swot", {"strengths": ["a\x00"]}, "strengths"),
        ("POST", f"{url}/tools/gstar", {"goals": "g\x00"}, "goals"),
        ("PUT", f"{url}/agreement", {"contact_methods": "email\x00"}, "contact_methods"),
        ("PUT", f"{url}/learning-outcomes", {"outcomes": "x\x00"}, "outcomes"),
        ("POST", f"{url}/messages", {"body": "hello\x00world"}, "body"),
        ("POST", f"{url}/messages", {"body": "bell\x07"}, "body"),
        ("POST", f"{url}/messages", {"body": "escape\x1b[31m"}, "body"),
        ("POST", "/v1/support-requests", {"kind": "other", "message": "help\x00"}, "message"),
        ("POST", "/v1/support-requests", {"kind": "other", "relationship_id": "\x00"}, "relationship_id"),
        ("GET", "/v1/relationships/abc%00def", None, "path.relationship_id"),
        ("GET", "/v1/mentors/M%002", None, "path.member_id"),
        ("GET", "/v1/support-requests/%00", None, "path.request_id"),
        ("GET", "/v1/relationships?status=pending%00", None, "query.status.0"),
        ("GET", f"{url}/messages?cursor=%00", None, "query.cursor"),
        ("GET", "/v1/mentors/suggestions?areas=claims%00", None, "query.areas.0"),
    ]


def test_unsafe_text_is_422_with_its_field_and_nothing_is_stored(client, pair, clock):
    start = (clock.now() + timedelta(days=3)).isoformat()
    before = client.get(f"{pair.url}/messages", headers=pair.mentee).json()["items"]
    failures = []
    for method, url, body, path in _cases(pair, start):
        response = client.request(method, url, json=body, headers=pair.mentee)
        if response.status_code != 422 or path not in error_paths(response):
            failures.append((method, url, response.status_code, response.text[:200]))
        else:
            assert_problem(response, 422)
    assert failures == []
    assert client.get(f"{pair.url}/messages", headers=pair.mentee).json()["items"] == before
    assert client.get("/v1/support-requests", headers=pair.mentee).json()["items"] == []


def test_ordinary_multi_line_text_is_kept_as_written(client, pair):
    body = "Line one\n\tindented\r\nand unicode: Zoë, 東京 ✓"
    posted = client.post(f"{pair.url}/messages", json={"body": body}, headers=pair.mentee)
    assert posted.status_code == 201, posted.text
    assert client.get(f"{pair.url}/messages", headers=pair.mentor).json()["items"][0]["body"] == body


def test_single_line_fields_refuse_line_breaks(client, auth):
    response = client.put("/v1/members/me/mentor-profile", headers=auth("M5"),
                          json={"headline": "Claims\nBcc: x", "expertise": ["claims"]})
    assert_problem(response, 422)
    assert error_paths(response) == ["headline"]


# --- the structural check --------------------------------------------------------------------

def _unchecked(annotation: Any, metadata: list[Any], path: str, seen: set[type]) -> list[str]:
    """Paths of the `str` (or free JSON) values under `annotation` that no text check covers."""
    if any(is_text_check(m) for m in metadata):
        return []
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *extra = get_args(annotation)
        return _unchecked(base, [*metadata, *extra], path, seen)
    if annotation is str or annotation is Any:
        return [path]
    if origin is Literal or annotation in (int, float, bool, type(None), datetime, AwareDatetime) or (
            inspect.isclass(annotation) and issubclass(annotation, (Enum, int, float, datetime))):
        return []
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return []
        seen.add(annotation)
        return [missing for name, field in annotation.model_fields.items()
                for missing in _unchecked(field.annotation, list(field.metadata), f"{path}.{name}", seen)]
    if origin in (list, tuple, set, frozenset, typing.Union, getattr(__import__("types"), "UnionType")):
        return [m for i, arg in enumerate(get_args(annotation)) if arg is not Ellipsis
                for m in _unchecked(arg, [], f"{path}[{i}]", seen)]
    if origin is dict:
        key, value = get_args(annotation)
        return _unchecked(key, [], f"{path}.<key>", seen) + _unchecked(value, [], f"{path}.<value>", seen)
    return [f"{path} (unknown type {annotation!r})"]


def test_every_text_field_of_every_request_goes_through_the_text_check(client):
    from fastapi.routing import iter_route_contexts

    from services.relationships.workspace.api import TOOL_MODELS

    gaps: list[str] = []
    routes = [context.original_route for context in iter_route_contexts(client.app.routes)]
    assert len([r for r in routes if isinstance(r, APIRoute)]) > 40
    for route in routes:
        if not isinstance(route, APIRoute):
            continue
        dependant = route.dependant
        params = [*dependant.path_params, *dependant.query_params, *dependant.header_params,
                  *dependant.cookie_params, *dependant.body_params]
        for sub in dependant.dependencies:
            params += [*sub.path_params, *sub.query_params, *sub.header_params, *sub.body_params]
        for param in params:
            info = param.field_info
            gaps += _unchecked(info.annotation, list(info.metadata),
                               f"{sorted(route.methods)} {route.path} {param.name}", set())
    for kind, model in TOOL_MODELS.items():
        gaps += _unchecked(model, [], f"tool {kind}", set())
    assert gaps == []
