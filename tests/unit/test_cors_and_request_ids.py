"""The HTTP edge a browser portal meets: CORS for the configured origins only, an `X-Request-ID`
on every answer (problems included) and in every log line of that request, and problem types
for what the framework refuses by itself."""

from __future__ import annotations

import io
import json
import logging

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from connect import logs
from connect.settings import Settings
from connect.web import create_app

PORTAL = "https://portal.example.org"


@pytest.fixture
def portal_client(make_container):  # type: ignore[no-untyped-def]
    container = make_container(cors_origins=[PORTAL, "http://localhost:5173"])
    with TestClient(create_app(container), raise_server_exceptions=False) as test_client:
        yield test_client


def _preflight(client: TestClient, origin: str, method: str = "POST") -> "object":
    return client.options("/v1/relationships", headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key"})


# --- CORS ------------------------------------------------------------------------------------


def test_a_preflight_from_a_configured_origin_is_answered_for_that_origin_only(portal_client):
    answer = _preflight(portal_client, PORTAL)
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == PORTAL  # exact, never "*"
    assert "access-control-allow-credentials" not in answer.headers  # off unless configured
    allowed = {h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key", "if-match", "x-request-id"} <= allowed
    assert "POST" in answer.headers["access-control-allow-methods"]
    assert answer.headers["x-request-id"]


def test_a_preflight_from_another_origin_is_refused(portal_client):
    for origin in ("https://evil.example.org", "https://portal.example.org.evil.example",
                   "http://portal.example.org", "https://portal.example.org:8443"):
        answer = _preflight(portal_client, origin)
        assert answer.status_code == 400, origin
        assert "access-control-allow-origin" not in answer.headers


def test_a_cross_origin_request_may_read_the_answer_and_its_headers(portal_client, token_for):
    answer = portal_client.get("/v1/relationships", headers={"Origin": PORTAL,
                                                              "Authorization": f"Bearer {token_for('M1')}"})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == PORTAL
    assert "Origin" in answer.headers["vary"]
    exposed = {h.strip().lower() for h in answer.headers["access-control-expose-headers"].split(",")}
    assert {"etag", "location", "link", "x-request-id", "retry-after"} <= exposed
    # A refusal too: the page must be able to read the problem document.
    refused = portal_client.get("/v1/relationships", headers={"Origin": PORTAL})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == PORTAL


def test_an_oversized_body_refusal_carries_the_cors_headers(make_container):
    container = make_container(cors_origins=[PORTAL], max_body_bytes=4096)
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        answer = client.post("/v1/relationships", content=b"x" * 5000, headers={"Origin": PORTAL})
    assert answer.status_code == 413
    assert answer.headers["access-control-allow-origin"] == PORTAL


def test_without_configured_origins_no_page_elsewhere_may_read_anything(client):
    answer = client.get("/healthz", headers={"Origin": PORTAL})
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers
    # The OPTIONS request is the API's own answer (204 with Allow), not a CORS grant.
    preflight = _preflight(client, PORTAL)
    assert preflight.status_code == 204
    assert "access-control-allow-origin" not in preflight.headers


def test_credentials_are_allowed_only_when_configured(make_container):
    container = make_container(cors_origins=[PORTAL], cors_allow_credentials=True)
    with TestClient(create_app(container)) as client:
        answer = _preflight(client, PORTAL)
    assert answer.headers["access-control-allow-origin"] == PORTAL
    assert answer.headers["access-control-allow-credentials"] == "true"


def test_cors_origins_are_read_from_a_comma_separated_variable(monkeypatch):
    monkeypatch.setenv("CONNECT_CORS_ORIGINS", " https://portal.example.org, http://localhost:5173 ")
    assert Settings().api.cors_origins == ["https://portal.example.org", "http://localhost:5173"]
    monkeypatch.delenv("CONNECT_CORS_ORIGINS")
    assert Settings().api.cors_origins == []


@pytest.mark.parametrize("origin", ["*", "https://portal.example.org/", "portal.example.org",
                                    "https://portal.example.org/app", "https://*.example.org",
                                    "ftp://portal.example.org"])
def test_anything_but_an_exact_origin_is_refused_at_start(monkeypatch, origin):
    monkeypatch.setenv("CONNECT_CORS_ORIGINS", origin)
    with pytest.raises(ValidationError, match="CONNECT_CORS_ORIGINS"):
        Settings().api.cors_origins


# --- X-Request-ID ----------------------------------------------------------------------------


def test_a_well_formed_request_id_is_echoed(client):
    for given in ("9f1c2a4e-8a0b-4c55-9d8e-3b2f1a0c7d6e", "01HGW2N7ZK3V4Q8R9S0T1U2V3W", "req_abc.123:4/x+y="):
        answer = client.get("/healthz", headers={"X-Request-ID": given})
        assert answer.headers["x-request-id"] == given


def test_a_malformed_request_id_is_replaced_by_a_new_one(client):
    for given in ("", "x" * 129, "has space", "semi;colon", "-starts-with-dash", "tab\there", "ünïcode"):
        answer = client.get("/healthz", headers={"X-Request-ID": given.encode("utf-8")})
        made = answer.headers["x-request-id"]
        assert made != given and len(made) == 32 and int(made, 16) >= 0, given


def test_every_answer_has_a_request_id_even_problems(client, auth):
    made = {client.get("/healthz").headers["x-request-id"] for _ in range(3)}
    assert len(made) == 3  # a new one each time
    problems = [
        client.get("/v1/no-such-thing"),                                     # 404 (router)
        client.delete("/healthz"),                                           # 405
        client.get("/v1/relationships"),                                     # 401
        client.post("/v1/relationships", json={}, headers=auth("M1")),      # 422
        client.post("/v1/relationships", content=b"{", headers={**auth("M1"), "Content-Type": "application/json"}),
    ]
    for answer in problems:
        assert answer.headers["content-type"] == "application/problem+json", answer.status_code
        assert len(answer.headers["x-request-id"]) == 32, answer.status_code


def test_an_unexpected_error_answers_with_the_request_id_that_its_log_line_carries(container):
    app = create_app(container)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("internal detail")

    stream = io.StringIO()
    logs.configure("INFO", json_lines=True)
    logging.getLogger().handlers[0].setStream(stream)  # type: ignore[attr-defined]
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/boom", headers={"X-Request-ID": "trace-500"})
        client.get("/healthz", headers={"X-Request-ID": "trace-200"})
    assert answer.status_code == 500
    assert answer.headers["x-request-id"] == "trace-500"
    assert "internal detail" not in answer.text
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    error = [line for line in lines if line["logger"] == "connect.problems"]
    assert error and error[0]["request_id"] == "trace-500"
    access = {line["request_id"]: line for line in lines if line["logger"] == "connect.access"}
    assert access["trace-500"]["status"] == 500 and access["trace-500"]["path"] == "/boom"
    assert access["trace-200"]["status"] == 200
    # Lines made outside any request carry none.
    logging.getLogger("connect.test").warning("outside")
    outside = json.loads(stream.getvalue().splitlines()[-1])
    assert outside["message"] == "outside" and "request_id" not in outside


def test_log_lines_of_an_endpoint_run_in_a_worker_thread_carry_its_request_id(container):
    app = create_app(container)
    app_log = logging.getLogger("connect.test.endpoint")

    @app.get("/chatty")
    def chatty() -> dict[str, str]:  # a sync endpoint: runs in the request thread pool
        app_log.info("working on it")
        return {}

    stream = io.StringIO()
    logs.configure("INFO", json_lines=True)
    logging.getLogger().handlers[0].setStream(stream)  # type: ignore[attr-defined]
    with TestClient(app) as client:
        client.get("/chatty", headers={"X-Request-ID": "trace-thread"})
    [line] = [json.loads(x) for x in stream.getvalue().splitlines() if "working on it" in x]
    assert line["request_id"] == "trace-thread"


# --- problem types of what the framework refuses -----------------------------------------------


def test_framework_refusals_have_problem_types(client, make_container):
    expectations = [
        (client.get("/v1/no-such-thing"), 404, "not-found"),
        (client.delete("/healthz"), 405, "method-not-allowed"),
    ]
    small = make_container(max_body_bytes=4096)
    with TestClient(create_app(small)) as small_client:
        expectations.append((small_client.post("/v1/relationships", content=b"x" * 5000), 413,
                             "payload-too-large"))
    for answer, status, kind in expectations:
        body = answer.json()
        assert answer.status_code == status
        assert answer.headers["content-type"] == "application/problem+json"
        assert body["type"] == "https://connect.example.org/problems/" + kind
        assert body["status"] == status and body["title"] and body["detail"]
