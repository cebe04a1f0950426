"""Every response the test suite gets is held to the published OpenAPI document.

The `client` fixture (tests/conftest.py) checks each response of the app against its own
document: the status must be one the operation documents, the media type one documented for
that status, and the body must validate against its schema (schemathesis's response-schema
check; response models forbid undocumented members).  So a route that starts answering a shape,
a status or a media type the document does not describe fails the test that made the call, and
CI with it.

Only operations the document lists are checked (not /metrics, /docs, nor a path no route
matches).  `CONNECT_OPENAPI_CHECK=0` turns the check off, e.g. to bisect a failure.
"""

from __future__ import annotations

import datetime
import os
from typing import Any, Callable

import httpx
import schemathesis
from fastapi import FastAPI

_SCHEMAS: dict[Any, Any] = {}


class UndocumentedResponse(AssertionError):
    """A response the OpenAPI document does not describe."""


def _schema(app: FastAPI) -> Any:
    # The document depends only on the routes mounted: made once per set of routes in a run,
    # not once per test (every test builds its own app).
    key = tuple(sorted((getattr(r, "path", ""), tuple(sorted(getattr(r, "methods", None) or ()))) for r in app.routes))
    if key not in _SCHEMAS:
        _SCHEMAS[key] = schemathesis.openapi.from_dict(app.openapi())
    return _SCHEMAS[key]


def check_response(app: FastAPI, response: httpx.Response) -> None:
    """Raise `UndocumentedResponse` when `response` is not what the document says `app` answers."""
    request = response.request
    operation = _schema(app).find_operation_by_path(request.method, request.url.path)
    if operation is None:
        return
    response.read()
    responses = operation.definition.raw.get("responses", {})
    documented = responses.get(str(response.status_code)) or responses.get("default")
    where = "%s %s -> %s" % (request.method, request.url.path, response.status_code)
    if documented is None:
        raise UndocumentedResponse("%s: status not in the document (documented: %s); body: %s"
                                   % (where, ", ".join(responses), response.text[:300]))
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    content = documented.get("content") or {}
    if response.content and media_type not in content:
        raise UndocumentedResponse("%s: media type %r not documented (documented: %s)"
                                   % (where, media_type, ", ".join(content) or "no body"))
    if media_type.endswith("json"):
        response.elapsed = datetime.timedelta(0)  # schemathesis reads it; the client sets it on close
        try:
            operation.validate_response(response)
        except BaseException as exc:  # schemathesis raises a group of failures
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            raise UndocumentedResponse("%s: body does not match the document:\n%s" % (where, exc)) from None


def response_hook(app: FastAPI) -> Callable[[httpx.Response], None] | None:
    """The client's response hook checking `app`'s answers, or None when turned off."""
    if os.environ.get("CONNECT_OPENAPI_CHECK", "1") == "0":
        return None
    return lambda response: check_response(app, response)
