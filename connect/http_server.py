"""The HTTP server every API process runs: uvicorn on httptools, with bounds and answers of ours
for what is refused before the application sees a request.

uvicorn's httptools protocol parses whatever head it is sent (an 8 MB Authorization header was
read whole before the 401) and answers a request it cannot parse -- a control character in a
header, say -- with a plain-text 400.  `BoundedHttpToolsProtocol` keeps the request line and
headers within `CONNECT_MAX_HEADER_BYTES` (431), the request target within 8 KiB (414), and
answers both, and any unparsable request, with a problem document like every other error.
Bodies are bounded by the application (`connect.web.BodySizeLimit`, 413).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any, Callable

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from connect.problems import PROBLEM_BASE, PROBLEM_JSON, status_title

#: The longest request target (path and query) served; longer is 414.
MAX_TARGET_BYTES = 8192
# A head still incomplete after this many bytes beyond the limit is refused before it is all
# read: a single endless header line never reaches the callbacks that count exactly.
_READ_AHEAD = 64 * 1024


class _Refused(Exception):
    pass


def problem_bytes(status: int, detail: str, type_: str) -> bytes:
    """A whole HTTP/1.1 response carrying a problem document; the connection closes after it."""
    body = json.dumps({"type": PROBLEM_BASE + type_, "title": status_title(status), "status": status,
                       "detail": detail}).encode()
    head = ("HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
            % (status, status_title(status), PROBLEM_JSON, len(body)))
    return head.encode("latin-1") + body


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bounded head and problem+json refusals."""

    max_head_bytes = 16 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._refusal: tuple[int, str, str] | None = None
        self._in_head = True  # reading a request line and headers (or waiting for one)
        self._head_bytes = 0  # exact: request target + header names and values so far
        self._raw_head_bytes = 0  # bytes received while the head is incomplete

    def _refuse(self, status: int, detail: str, type_: str) -> None:
        self._refusal = (status, detail, type_)
        raise _Refused(detail)  # httptools stops and uvicorn calls send_400_response

    def data_received(self, data: bytes) -> None:
        if self._refusal is not None:
            return  # the refusal is written and the connection closing
        was_in_head = self._in_head
        super().data_received(data)
        if self._refusal is None and self._in_head and not self.transport.is_closing():
            self._raw_head_bytes = (self._raw_head_bytes if was_in_head else 0) + len(data)
            if self._raw_head_bytes > self.max_head_bytes + _READ_AHEAD:
                self._refusal = (431, self._too_large(), "header-too-large")
                self.send_400_response("")

    def _too_large(self) -> str:
        return "The request line and headers are larger than %d bytes." % self.max_head_bytes

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes = True, 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._head_bytes += len(url)
        if len(self.url) > MAX_TARGET_BYTES:
            self._refuse(414, "The request target is longer than %d bytes." % MAX_TARGET_BYTES, "uri-too-long")

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > self.max_head_bytes:
            self._refuse(431, self._too_large(), "header-too-large")

    def on_headers_complete(self) -> None:
        self._in_head, self._raw_head_bytes = False, 0
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        status, detail, type_ = self._refusal or (
            400, "The request is not valid HTTP/1.1 (a malformed request line or header, such as a "
                 "control character in a header value).", "malformed-request")
        self.transport.write(problem_bytes(status, detail, type_))
        self.transport.close()


def server_config(app: Any, *, max_head_bytes: int, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration as every Connect API process runs it."""
    protocol = type("ConnectHttpProtocol", (BoundedHttpToolsProtocol,), {"max_head_bytes": max_head_bytes})
    return uvicorn.Config(app, http=protocol, log_config=None, access_log=False, **options)


def serve(app: Any, *, max_head_bytes: int, host: str | None = None, port: int | None = None,
          sockets: list[socket.socket] | None = None, on_started: Callable[[], None] | None = None) -> None:
    """Run `app` until stopped: on `host`:`port`, or on sockets bound beforehand. `on_started`
    is called (from another thread) once the server accepts connections."""
    options: dict[str, Any] = {} if sockets else {"host": host, "port": port}
    server = uvicorn.Server(server_config(app, max_head_bytes=max_head_bytes, **options))
    if on_started is not None:
        def wait_then_tell() -> None:
            while not server.started and not server.should_exit:
                time.sleep(0.05)
            if server.started:
                on_started()

        threading.Thread(target=wait_then_tell, name="server-started", daemon=True).start()
    server.run(sockets=sockets)
