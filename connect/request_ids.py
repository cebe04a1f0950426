"""`X-Request-ID`: one id per HTTP request, on its response and on every log line it causes.

A client (or the proxy in front of the API) may send its own id; a well-formed one is kept so a
request can be followed from the portal through every hop.  Anything else -- missing, too long,
or carrying characters a log or a header could be abused with -- is replaced by a new id, so a
response always names the id its log lines carry.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Request-ID"
#: Where the id is kept in the ASGI scope, for code that runs outside the request's context
#: (Starlette's last-resort error handler answers a 500 after the middleware has returned).
SCOPE_KEY = "connect.request_id"

# Letters, digits and the punctuation UUIDs, ULIDs, base64 and tracing ids use; 1 to 128 of them.
_WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~:+/=-]{0,127}")

_current: ContextVar[str | None] = ContextVar("connect_request_id", default=None)

access_log = logging.getLogger("connect.access")


def current() -> str | None:
    """The id of the request this code runs for, if any."""
    return _current.get()


def of_scope(scope: Scope) -> str | None:
    return scope.get(SCOPE_KEY)


def accepted(given: str | None) -> str:
    """The client's id when well-formed, a new one otherwise."""
    if given is not None and _WELL_FORMED.fullmatch(given):
        return given
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record made while a request is handled (a JSON log field)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            request_id = _current.get()
            if request_id is not None:
                record.request_id = request_id
        return True


class RequestId:
    """Outermost middleware: picks the request's id, answers it in `X-Request-ID` and writes the
    request's access line.  Plain ASGI (see `connect.web.RequestMetrics` for why)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = None
        for name, value in scope.get("headers") or []:
            if name == b"x-request-id":
                given = value.decode("latin-1")
                break
        request_id = accepted(given)
        scope[SCOPE_KEY] = request_id
        token = _current.set(request_id)
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode("ascii")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            access_log.info("%s %s %s %.1f ms", scope["method"], scope["path"], status,
                            (time.perf_counter() - started) * 1000.0,
                            extra={"method": scope["method"], "path": scope["path"], "status": status})
            _current.reset(token)
