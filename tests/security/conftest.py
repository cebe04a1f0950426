"""The security suite: hostile input against the embedded shape (the app in-process, and a real
`connect serve` where only the server layer shows the behaviour).

Shared fixtures: mentors in the search index, and an accepted relationship between a mentee
(M1) and a mentor (M2) from the workspace tests."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from tests.unit.workspace.conftest import Pair, pair, propose  # noqa: F401 - fixtures shared with the workspace tests


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json", response.headers
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def error_paths(response: Any) -> list[str]:
    return [error["path"] for error in response.json().get("errors", [])]


@pytest.fixture
def mentors(client: Any, auth: Callable[..., dict[str, str]], deliver: Callable[..., int]) -> list[str]:
    """Seven searchable mentors, P0..P6, all with `claims` expertise."""
    made = []
    for i in range(7):
        member_id = f"P{i}"
        response = client.put("/v1/members/me/mentor-profile", headers=auth(member_id, name=f"Mentor {i}"),
                              json={"headline": "Claims lead", "expertise": ["claims"]})
        assert response.status_code == 200, response.text
        made.append(member_id)
    deliver()
    return made
