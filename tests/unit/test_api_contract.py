"""The published API document and docs/api.md tell the same, whole story.

The responses themselves are held to the document by the `client` fixture of every test
(`tests/openapi_check.py`); here: the document's own promises (a bearer scheme, a response
model for every success, the problem schema for every refusal, a description on every
operation and response field) and docs/api.md naming exactly the operations served."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.openapi_check import UndocumentedResponse, check_response

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def document(client: Any) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, operation) for path, item in document["paths"].items()
            for method, operation in item.items()]


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_every_v1_operation_needs_the_bearer_scheme(document):
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": document["components"]["securitySchemes"]["bearer"]["description"]}
    for method, path, operation in operations(document):
        assert (operation.get("security") == [{"bearer": []}]) == path.startswith("/v1/"), (method, path)


def test_every_success_has_a_described_model(document):
    for method, path, operation in operations(document):
        successes = {code: r for code, r in operation["responses"].items() if code.startswith("2")}
        assert successes, (method, path)
        for code, response in successes.items():
            content = response.get("content", {})
            schema = resolve(document, content["application/json"]["schema"])
            assert schema.get("type") in ("object", "array"), (method, path, code, schema)
            if schema.get("type") == "object" and "properties" in schema:
                assert schema.get("additionalProperties") is False, (method, path, code)
                undescribed = [name for name, prop in schema["properties"].items() if not prop.get("description")]
                assert undescribed == [], (method, path, code, undescribed)
            elif schema.get("type") == "object":
                assert schema.get("additionalProperties"), (method, path, code)  # a map of described values


def test_every_refusal_is_a_problem_document_and_nothing_says_HTTPValidationError(document):
    assert "HTTPValidationError" not in str(document)
    for method, path, operation in operations(document):
        assert operation.get("summary") and operation.get("description"), (method, path)
        for code, response in operation["responses"].items():
            if int(code) >= 400 and path.startswith("/v1/"):
                assert list(response["content"]) == ["application/problem+json"], (method, path, code)
                assert response["content"]["application/problem+json"]["schema"] == {
                    "$ref": "#/components/schemas/Problem"}
                assert response["content"]["application/problem+json"]["example"]["status"] == int(code)
        if path.startswith("/v1/"):
            assert {"401", "403", "422"} <= set(operation["responses"]), (method, path)
        if "{" in path:
            assert "404" in operation["responses"], (method, path)


def test_every_documented_example_matches_its_schema(client, document):
    """An example in the document is what a client copies first: it must be a valid answer."""
    examples = [(method, path, status, content["example"]) for method, path, operation in operations(document)
                for status, answer in operation["responses"].items() if status.startswith("2")
                for media, content in (answer.get("content") or {}).items()
                if media == "application/json" and "example" in content]
    assert ("GET", "/v1/relationships/{relationship_id}/tools", "200") in [e[:3] for e in examples]
    for method, path, status, example in examples:
        url = "http://testserver" + re.sub(r"\{[^}]+\}", "x", path)
        check_response(client.app, httpx.Response(int(status), json=example, request=httpx.Request(method, url)))


def test_docs_api_md_names_every_operation_served_and_no_other(document):
    text = (ROOT / "docs" / "api.md").read_text()
    named = set(re.findall(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`\s?]*)`", text))
    served = {(method, path) for method, path, _ in operations(document)}
    named -= {("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/redoc")}  # the document and its viewers
    assert served - named == set(), "served but not in docs/api.md"
    assert named - served == set(), "in docs/api.md but not served"


def test_the_check_catches_a_drifted_answer(client, auth):
    """The suite-wide check is not a no-op: an extra member, an undocumented status and a wrong
    media type each fail."""
    app = client.app
    real = client.get("/v1/members/me", headers=auth("D1"))
    assert real.status_code == 200
    cases = [(200, {**real.json(), "nickname": "Dee"}, "application/json", "body does not match"),
             (200, {"member_id": "D1"}, "application/json", "body does not match"),
             (418, real.json(), "application/json", "status not in the document"),
             (404, {"type": "about:blank", "title": "Not found", "status": 404, "detail": "x"},
              "application/problem+json", "status not in the document"),
             (401, real.json(), "application/json", "media type")]
    for status, body, media_type, complaint in cases:
        fake = httpx.Response(status, json=body, headers={"content-type": media_type}, request=real.request)
        with pytest.raises(UndocumentedResponse, match=complaint):
            check_response(app, fake)


def test_docs_and_redoc_load_only_local_assets_and_offer_authorize(client):
    """/docs and /redoc work offline: every script, style and icon they load is served here, and
    Swagger UI has the bearer scheme to Authorize with (kept across reloads)."""
    for page in ("/docs", "/redoc"):
        html = client.get(page)
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        assert re.findall(r"(?:src|href)=[\"']?(?:https?:)?//", html.text) == [], page
        assets = re.findall(r"(?:src|href)=[\"'](/[^\"']+)", html.text)
        assert assets, page
        for asset in assets:
            assert client.get(asset).status_code == 200, asset
        assert "/openapi.json" in html.text
    swagger = client.get("/docs").text
    assert "swagger-ui-bundle.js" in swagger and '"persistAuthorization": true' in swagger
    assert "cdn" not in swagger.lower() and "cdn" not in client.get("/redoc").text.lower()


def test_every_field_and_parameter_is_described(document):
    undescribed = [f"{name}.{field}" for name, schema in document["components"]["schemas"].items()
                   for field, prop in schema.get("properties", {}).items() if not prop.get("description")]
    undescribed += [f"{method} {path} {parameter['name']}" for method, path, operation in operations(document)
                    for parameter in operation.get("parameters", [])
                    if not (parameter.get("description") or parameter.get("schema", {}).get("description"))]
    assert undescribed == []
