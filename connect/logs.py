"""Structured JSON logs, one object per line, for the embedded process and every role."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from connect.request_ids import RequestIdFilter


def configure(level: str = "INFO", json_lines: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
        ))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    # Every line written while a request is handled names it (`request_id`, connect/request_ids.py).
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn installs its own handlers; route them through ours so every line is JSON.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    for noisy in ("kafka", "alembic", "opensearch", "elastic_transport", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
