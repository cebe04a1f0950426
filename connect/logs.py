"""Logs for the embedded process and every role: JSON lines for machines, plain lines for people.

By default (`CONNECT_LOG_JSON` unset) a person at a terminal reads plain lines and anything else
(a service manager, a container runtime, a pipe) gets one JSON object per line."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from connect.request_ids import RequestIdFilter


def configure(level: str = "INFO", json_lines: bool | None = None) -> None:
    """Send every logger's records to stderr; `json_lines=None` chooses by whether it is a terminal."""
    handler = logging.StreamHandler(sys.stderr)
    if json_lines is None:
        json_lines = not sys.stderr.isatty()
    if json_lines:
        handler.setFormatter(JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
        ))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    # Every line written while a request is handled names it (`request_id`, connect/request_ids.py).
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn installs its own handlers; route them through ours so every line has one format.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    for noisy in ("kafka", "alembic", "opensearch", "elastic_transport", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
