"""RFC 9457 problem+json for every error the API returns.

Clients get `type`, `title`, `status`, `detail` and, for validation failures,
`errors` with a field path each; never a stack trace.

This is the one place where errors become HTTP: use cases raise the domain errors
of `connect.errors`, and `problem_for` gives each family its status (and the
headers some of them carry); `install` answers every error of a request with it.
`Problem` itself is for the HTTP edge only (authentication, idempotency keys).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from connect import errors, request_ids
from connect.cursors import InvalidCursor

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://connect.example.org/problems/"

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    413: "Payload too large",
    414: "URI too long",
    415: "Unsupported media type",
    422: "Validation failed",
    428: "Precondition required",
    429: "Too many requests",
    431: "Request header fields too large",
    500: "Internal server error",
    503: "Service unavailable",
}


def status_title(status: int) -> str:
    return _TITLES.get(status, "Error")


def status_type(status: int) -> str:
    """The problem type of an error that carries no code of its own (the framework's 404 for an
    unknown path, 405, 406, 415...): its status title as a slug, e.g. `not-found`, so every
    problem document has a type a client can switch on."""
    return status_title(status).lower().replace(" ", "-") if status in _TITLES else "http-%d" % status


class Problem(Exception):
    """Raise from anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        type_: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type_
        self.title = title or _TITLES.get(status, "Error")
        self.headers = headers
        self.extensions = extensions


def field_error(path: str, message: str, type_: str = "value_error") -> dict[str, str]:
    return {"path": path, "message": message, "type": type_}


def validation_problem(errors: list[dict[str, str]], detail: str | None = None) -> Problem:
    return Problem(
        422,
        detail or "; ".join(f"{e['path']}: {e['message']}" for e in errors),
        type_="validation",
        errors=errors,
    )


#: The status of each family of domain errors; the first that matches wins (subclasses first).
DOMAIN_STATUS: tuple[tuple[type[errors.DomainError], int], ...] = (
    (errors.NotFound, 404),
    (errors.Forbidden, 403),
    (errors.Invalid, 422),
    (errors.PreconditionRequired, 428),
    (errors.PreconditionFailed, 412),
    (errors.Unavailable, 503),
    (errors.Conflict, 409),
    (errors.DomainError, 409),
)


def problem_for(error: errors.DomainError) -> Problem:
    """The problem document a domain error answers with."""
    if isinstance(error, errors.Invalid):
        return validation_problem([field_error(path, message) for path, message in error.field_errors],
                                  error.detail)
    status = next(status for family, status in DOMAIN_STATUS if isinstance(error, family))
    headers: dict[str, str] = {}
    if isinstance(error, errors.PreconditionFailed) and error.etag is not None:
        headers["ETag"] = error.etag  # the version to read and retry from
    if isinstance(error, errors.Unavailable) and error.retry_after_seconds is not None:
        headers["Retry-After"] = str(error.retry_after_seconds)
    return Problem(status, error.detail, type_=error.code, headers=headers or None, **error.facts)


def problem_response(
    status: int,
    detail: str,
    *,
    type_: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    instance: str | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (type_ or status_type(status)),
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _path(loc: tuple[Any, ...]) -> str:
    # FastAPI prefixes the location with where it came from ("body", "query"...);
    # portal developers want the path inside that part, in JSON-pointer-ish dots.
    parts = list(loc)
    where = parts.pop(0) if parts and parts[0] in ("body", "query", "path", "header", "cookie") else "body"
    inner = ".".join(str(p) for p in parts)
    return inner if where == "body" else f"{where}.{inner}" if inner else where


def _validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    return [
        field_error(_path(tuple(err.get("loc", ()))) or "$", err.get("msg", "invalid"), err.get("type", "value_error"))
        for err in exc.errors()
    ]


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            exc.status, exc.detail, type_=exc.type, title=exc.title, headers=exc.headers,
            instance=request.url.path, **exc.extensions,
        )

    @app.exception_handler(errors.DomainError)
    async def _refused(request: Request, exc: errors.DomainError) -> JSONResponse:
        return await _problem(request, problem_for(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        if any(e["type"] == "json_invalid" for e in errors):
            return problem_response(400, "The request body is not valid JSON.", type_="malformed-json",
                                    instance=request.url.path, errors=errors)
        return problem_response(
            422, "; ".join(f"{e['path']}: {e['message']}" for e in errors),
            type_="validation", instance=request.url.path, errors=errors,
        )

    @app.exception_handler(InvalidCursor)
    async def _bad_cursor(request: Request, exc: InvalidCursor) -> JSONResponse:
        return problem_response(400, str(exc), type_="invalid-cursor", instance=request.url.path,
                                errors=[field_error(exc.path, exc.reason, "invalid_cursor")])

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "Error")
        return problem_response(exc.status_code, detail, headers=getattr(exc, "headers", None),
                                instance=request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette answers this one outside every middleware, after `RequestId` has returned:
        # the id comes from the scope, for the log line and the response alike.
        request_id = request_ids.of_scope(request.scope)
        log.exception("unhandled error on %s %s", request.method, request.url.path,
                      extra={"request_id": request_id})
        return problem_response(500, "Something went wrong on our side; it has been logged.",
                                instance=request.url.path,
                                headers={request_ids.HEADER: request_id} if request_id else None)
