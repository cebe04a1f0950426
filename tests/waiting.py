"""Waiting for a condition with a deadline, instead of a fixed sleep that decides an outcome."""

from __future__ import annotations

import time
from typing import Any, Callable


def eventually(check: Callable[[], Any], timeout: float, what: str, *, every: float = 0.2) -> Any:
    """`check()`'s first truthy result, asked every `every` seconds; fails the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, "not within %ss: %s" % (timeout, what)
        time.sleep(every)
