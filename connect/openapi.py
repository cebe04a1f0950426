"""The published API document: what the server really answers, refusals included.

FastAPI writes the document from the routes: their parameters, bodies and response models.
What it cannot know is added here, in one place, from the same facts the server acts on:

* every `/v1` operation needs a bearer token (`securitySchemes.bearer`, so /docs can Authorize);
* every refusal is an RFC 9457 problem document (`Problem`, `application/problem+json`), never
  FastAPI's `HTTPValidationError`; which statuses an operation may answer follows from what it
  takes: any `/v1` call 401 (no valid token), 403 (a deleted account's token) and 422 (a field
  that fails its check); a path id 404; a body 400 (not JSON) and 413 (too large); a page cursor or an
  `Idempotency-Key` 400; a change 409 (not allowed in the current state), and a read of a relationship's
  workspace too (not open before it is accepted); an `If-Match` header 412 (a route
  that requires it names 428 itself).  A route names any other status it may answer in its own `responses` (e.g. search's 503), and
  gets the problem schema for it here.

The security suite runs schemathesis over this document with its conformance checks on, and
the test client of the whole suite checks every response against it (`tests/openapi_check.py`),
so a response that drifts from the document fails CI.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from connect.models import Closed
from connect.problems import PROBLEM_BASE, PROBLEM_JSON, status_title


class FieldErrorOut(Closed):
    path: str = Field(description="Where the bad value is: a body field in dots (`criteria.expertise.0`), or "
                                  "`query.<name>`, `header.<name>`, `path.<name>`", examples=["duration_months"])
    message: str = Field(description="What is wrong with it, for people", examples=["Input should be less than "
                                                                                     "or equal to 12"])
    type: str = Field(description="A machine-readable kind of failure (e.g. `less_than_equal`, `missing`)",
                      examples=["less_than_equal"])


class ProblemOut(BaseModel):
    """An RFC 9457 problem document: every refusal of the API has this shape.  Extension members
    say what the client needs to act (e.g. `current_status`, `relationship_id`, `etag`)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description=f"What went wrong, as a URI: `{PROBLEM_BASE}<name>` (stable names, e.g. "
                                  "`validation`, `not-found`, `stale-etag`), or `about:blank`",
                      examples=[PROBLEM_BASE + "validation"])
    title: str = Field(description="The HTTP status in words", examples=["Validation failed"])
    status: int = Field(description="The HTTP status code, repeated", examples=[422])
    detail: str = Field(description="What happened, for people", examples=["duration_months: Input should be less "
                                                                            "than or equal to 12"])
    instance: str | None = Field(None, description="The path of the request that was refused")
    errors: list[FieldErrorOut] | None = Field(None, description="Validation failures (422, and 400 for a body "
                                                                 "that is not JSON or a bad cursor), one per field")


class HealthOut(Closed):
    status: Literal["ok"] = Field(description="Always `ok`: the process answers")


class ReadinessOut(Closed):
    status: Literal["ok", "unavailable"] = Field(description="`ok` when every check passed (200), else "
                                                             "`unavailable` (503)")
    checks: dict[str, str] = Field(description="Each dependency: `ok` or `error: <why>`")


#: Why each status may come back, when a route does not say better.
PROBLEM_DESCRIPTIONS = {
    400: "The body is not JSON, or a page cursor is not one Connect issued to you for this listing",
    401: "No valid bearer token (`WWW-Authenticate` says why)",
    403: "Not yours to do: your account was deleted, or the action needs a role you do not have",
    404: "No such thing for you (strangers learn nothing, not even that it exists)",
    409: "Not allowed in the current state; extension members say what the state is "
         "(e.g. `current_status`, `relationship_id`)",
    412: "The `If-Match` ETag is not the current version (the response's `ETag` is): reload and retry",
    413: "The body is larger than the server accepts (`CONNECT_MAX_BODY_BYTES`)",
    422: "A field failed its check: `errors` names each field path",
    428: "This change needs `If-Match` with the ETag you read",
    503: "A service this call needs does not answer right now; retry later (`Retry-After` when known)",
}

_EXAMPLE_TYPES = {400: "malformed-json", 401: "unauthenticated", 403: "account-deleted", 404: "not-found",
                  409: "conflict", 412: "stale-etag", 413: "payload-too-large", 422: "validation",
                  428: "precondition-required", 503: "unavailable"}

_CHANGES = frozenset({"post", "put", "patch", "delete"})

#: What the parameters shared by many operations mean, said once (a route's own description wins).
PARAMETER_DESCRIPTIONS = {
    "relationship_id": "The relationship's id (from `GET /v1/relationships`)",
    "meeting_id": "The meeting's id",
    "tool_id": "The tool's id",
    "kind": "Which tool: swot, gstar or goals",
    "request_id": "The support request's id",
    "member_id": "A membership number",
    "other_id": "Another membership number",
    "idempotency-key": "Any string of 1 to 200 characters, new for each new request: the same key and "
                       "request again replays the first answer (`Idempotent-Replayed: true`)",
    "role": "Only those where I am the mentor, or the mentee",
    "status": "Only those in these statuses",
    "format": "json (default) or csv",
    "areas": "Expertise ids the mentors should offer",
    "exclude": "Membership numbers to leave out",
    "limit": "How many at most",
}


def _problem_response(status: int, description: str | None) -> dict[str, Any]:
    example = {"type": PROBLEM_BASE + _EXAMPLE_TYPES.get(status, "conflict"), "title": status_title(status),
               "status": status, "detail": PROBLEM_DESCRIPTIONS.get(status, status_title(status)) + "."}
    if status == 422:
        example["errors"] = [{"path": "duration_months", "message": "Input should be less than or equal to 12",
                              "type": "less_than_equal"}]
    return {"description": description or PROBLEM_DESCRIPTIONS.get(status, status_title(status)),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}, "example": example}}}


def _statuses(method: str, path: str, operation: dict[str, Any]) -> set[int]:
    """The refusals an operation may answer, from what it takes (see the module's docstring)."""
    if not path.startswith("/v1/"):
        return set()
    found = {401, 403, 422}
    parameters = operation.get("parameters", [])
    if any(p["in"] == "path" for p in parameters):
        found.add(404)
    if "requestBody" in operation:
        found |= {400, 413}
    if any(p["in"] == "query" and p["name"] == "cursor" for p in parameters) or path == "/v1/mentors/search":
        found.add(400)
    if any(p["in"] == "header" and p["name"].lower() == "idempotency-key" for p in parameters):
        found.add(400)  # a key Connect cannot store
    if method in _CHANGES or "{relationship_id}/" in path:
        found.add(409)  # a change not allowed now; a workspace read before the relationship is accepted
    if any(p["in"] == "header" and p["name"].lower() == "if-match" for p in parameters):
        found.add(412)  # a route that requires If-Match says 428 itself
    return found


def document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of `app`, with its security and its problem documents."""
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes,
                      tags=app.openapi_tags)
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas["Problem"] = ProblemOut.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas["Problem"]["properties"]["errors"] = {
        "anyOf": [{"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}}, {"type": "null"}],
        "description": ProblemOut.model_fields["errors"].description}
    schemas["Problem"].pop("$defs", None)
    schemas["FieldError"] = FieldErrorOut.model_json_schema()
    components["securitySchemes"] = {"bearer": {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "A token of the membership identity provider (in the embedded default: "
                       "`connect token MEMBER_ID --name ... --email ...`)."}}
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            declared = {int(code) for code in responses if code.isdigit() and int(code) >= 400}
            for status in _statuses(method, path, operation) | declared:
                given = responses.get(str(status), {}).get("description")
                generic = given in (None, "Validation Error") or given == status_title(status)
                responses[str(status)] = _problem_response(status, None if generic else given)
            operation["responses"] = dict(sorted(responses.items()))
            for parameter in operation.get("parameters", []):
                if not parameter.get("description") and not parameter.get("schema", {}).get("description"):
                    parameter["description"] = PARAMETER_DESCRIPTIONS.get(parameter["name"].lower(), "")
            if path.startswith("/v1/"):
                operation["security"] = [{"bearer": []}]
            operation.setdefault("description", operation.get("summary", ""))
    _keep_example_nulls(app, doc)
    return doc


def _keep_example_nulls(app: FastAPI, doc: dict[str, Any]) -> None:
    """Put back the response examples routes declare, as declared: FastAPI drops every null from
    the document it makes, which would leave an example without its `next_cursor: null` (and so
    not a valid answer)."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not context.path_format or not context.methods:
            continue
        for status, answer in route.responses.items():
            for media, content in (answer.get("content") or {}).items():
                if "example" not in content:
                    continue
                for method in context.methods:
                    documented = doc["paths"][context.path_format][method.lower()]["responses"][str(status)]
                    documented["content"][media]["example"] = content["example"]


#: Swagger UI's and ReDoc's scripts and styles, as the `fastapi-offline` package ships them: /docs and
#: /redoc load nothing from another host, so they work offline and under a strict network policy.
ASSETS = Path(str(resources.files("fastapi_offline") / "static"))
ASSETS_URL = "/docs/assets"


def install(app: FastAPI) -> None:
    """Serve `document(app)` at /openapi.json (made once, on first request), Swagger UI at /docs
    and ReDoc at /redoc from local assets.  The app must be made with `docs_url=None, redoc_url=None`."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        # persistAuthorization keeps the token pasted into Authorize across reloads.
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=app.title + " - Swagger UI",
                                   swagger_js_url=ASSETS_URL + "/swagger-ui-bundle.js",
                                   swagger_css_url=ASSETS_URL + "/swagger-ui.css",
                                   swagger_favicon_url=ASSETS_URL + "/favicon.png",
                                   swagger_ui_parameters={"persistAuthorization": True})

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=app.openapi_url or "/openapi.json", title=app.title + " - ReDoc",
                              redoc_js_url=ASSETS_URL + "/redoc.standalone.js",
                              redoc_favicon_url=ASSETS_URL + "/favicon.png", with_google_fonts=False)
