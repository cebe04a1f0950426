"""Every error is problem+json; validation errors carry field paths; no stack traces leak."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field

from connect.auth import Member, current_member
from connect.problems import Problem
from connect.web import create_app


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")
    country: str = Field(min_length=2, max_length=2)


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    years: int = Field(ge=0)
    address: Address


stored: list[Thing] = []
probe = APIRouter(prefix="/v1")


@probe.post("/things", status_code=201)
def create_thing(thing: Thing, member: Member = Depends(current_member)) -> dict:
    stored.append(thing)
    return {"ok": True}


@probe.get("/boom")
def boom(member: Member = Depends(current_member)) -> dict:
    raise RuntimeError("secret internal detail /etc/passwd")


@probe.get("/things/{thing_id}")
def get_thing(thing_id: str, member: Member = Depends(current_member)) -> dict:
    raise Problem(404, "No such thing.")


@pytest.fixture
def api(container):
    stored.clear()
    with TestClient(create_app(container, routers=[probe]), raise_server_exceptions=False) as client:
        yield client


def assert_problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["type"]
    return body


def test_validation_errors_have_field_paths(api, auth):
    body = assert_problem(api.post("/v1/things", json={"name": "x", "years": -1, "address": {"country": "GBR"}},
                                   headers=auth("M1")), 422)
    paths = {e["path"] for e in body["errors"]}
    assert paths == {"years", "address.country"}
    assert stored == []


def test_wrong_type_and_unknown_field_are_422(api, auth):
    body = assert_problem(api.post("/v1/things", json={"name": 5, "years": "many", "address": {"country": "GB"},
                                                       "admin": True}, headers=auth("M1")), 422)
    assert {e["path"] for e in body["errors"]} == {"name", "years", "admin"}
    assert stored == []


def test_malformed_json_is_400(api, auth):
    headers = {**auth("M1"), "Content-Type": "application/json"}
    assert_problem(api.post("/v1/things", content=b'{"name": "x",', headers=headers), 400)
    assert stored == []


def test_oversized_body_is_413_and_nothing_is_stored(api, auth, container):
    big = {"name": "x" * (container.settings.api.max_body_bytes + 10), "years": 1, "address": {"country": "GB"}}
    assert_problem(api.post("/v1/things", json=big, headers=auth("M1")), 413)

    def chunks():
        yield b'{"name": "'
        for _ in range(container.settings.api.max_body_bytes // 1000 + 1):
            yield b"y" * 1000
        yield b'", "years": 1, "address": {"country": "GB"}}'

    # Streamed without a Content-Length: the cap must hold while reading.
    assert_problem(api.post("/v1/things", content=chunks(), headers={**auth("M1"),
                                                                      "Content-Type": "application/json"}), 413)
    assert stored == []


@pytest.mark.parametrize("header", [None, "Basic dXNlcjpwYXNz", "Bearer", "Bearer not.a.jwt"])
def test_missing_or_bad_token_is_401(api, header):
    headers = {"Authorization": header} if header else {}
    body = assert_problem(api.post("/v1/things", json={"name": "x", "years": 1, "address": {"country": "GB"}},
                                   headers=headers), 401)
    assert "Bearer" in api.get("/v1/boom", headers=headers).headers["www-authenticate"]
    assert body["status"] == 401
    assert stored == []


def test_expired_token_is_401(api, token_for):
    expired = token_for("M1", ttl_seconds=1, now=1_000_000)
    body = assert_problem(api.get("/v1/boom", headers={"Authorization": f"Bearer {expired}"}), 401)
    assert "expired" in body["detail"]


def test_unexpected_error_is_500_without_internals(api, auth):
    body = assert_problem(api.get("/v1/boom", headers=auth("M1")), 500)
    assert "secret" not in api.get("/v1/boom", headers=auth("M1")).text
    assert "Traceback" not in body["detail"]


def test_unknown_route_and_method_are_problems(api, auth):
    assert_problem(api.get("/v1/nothing-here", headers=auth("M1")), 404)
    assert_problem(api.delete("/v1/things", headers=auth("M1")), 405)


def test_ops_endpoints(api):
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"
    assert "matching.database" in ready.json()["checks"]
    api.get("/healthz")
    assert "connect_http_requests_total" in api.get("/metrics").text
    assert api.get("/openapi.json").json()["info"]["title"] == "Connect API"
    assert api.get("/docs").status_code == 200


def test_metrics_count_requests_by_route_template_and_status(api, auth):
    api.get("/healthz")
    api.get("/v1/boom", headers=auth("M1"))
    api.get("/v1/nothing-here", headers=auth("M1"))
    api.get("/v1/things/SOMETHING-UNKNOWN", headers=auth("M1"))
    text = api.get("/metrics").text
    assert 'connect_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    # An exception that escapes the app is counted as the 500 the client got.
    assert 'connect_http_requests_total{method="GET",route="/v1/boom",status="500"}' in text
    assert 'connect_http_requests_total{method="GET",route="unmatched",status="404"}' in text
    # Path parameters stay in the template: one series per route, not per id.
    assert 'route="/v1/things/{thing_id}",status="404"' in text
    assert "SOMETHING-UNKNOWN" not in text
    assert 'connect_http_request_seconds_count{method="GET",route="/healthz"}' in text


def test_readyz_reports_a_broken_dependency(make_container, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the mail folder should be")
    container = make_container(mail_dir=blocked)
    with TestClient(create_app(container)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["email"].startswith("error")
