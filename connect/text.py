"""Text that every store and every email can carry, checked once at the edge.

PostgreSQL refuses NUL in text (SQLite keeps it), mail headers break on line ends, and
terminal escapes or other control characters have no business in a mentoring message.  So
every text field of every request, every query and path parameter, and the claims of every
token go through the same check, and the same request gets the same 422 on either database.

* `Text`: multi-line free text (messages, bios, goals): tab, line feed and carriage return are
  kept; every other control character (C0, DEL, C1) and lone surrogates are refused.
* `Line`: one line (names, headlines, ids, tags): no control characters at all, and none of
  the separators Python's `str.splitlines` breaks on (so nothing can start a new header line).
* `Json`: free JSON (search criteria): every string in it, keys included, is a `Line`;
  `JsonText` the same with `Text` values (a body a model validates later, such as a tool's).
* `Id`: an id in a path, a query or a body: a `Line` of 1 to 64 characters.

`header_safe()` is the lenient twin for output: it folds what a header cannot carry into
spaces instead of refusing, for data that was stored before these checks existed.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints

# C0 controls but tab, LF, CR; DEL; C1 controls; lone surrogates (JSON can spell them as \ud800).
_NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Everything above, plus what ends a line for str.splitlines (and so for the email package).
_NOT_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")

_NAMES = {"\x00": "a NUL character", "\n": "a line break", "\r": "a line break", "\t": "a tab"}


def _describe(char: str) -> str:
    return _NAMES.get(char, "the control character U+%04X" % ord(char))


def check_text(value: str) -> str:
    """`value` when it is multi-line text every store can carry; ValueError naming the culprit."""
    found = _NOT_TEXT.search(value)
    if found:
        raise ValueError("must not contain %s" % _describe(found.group()))
    return value


def check_line(value: str) -> str:
    """`value` when it is one line of text every store and header can carry; ValueError otherwise."""
    found = _NOT_LINE.search(value)
    if found:
        raise ValueError("must be one line without control characters (found %s)" % _describe(found.group()))
    return value


def _check_strings(value: Any, check: Any) -> Any:
    if isinstance(value, str):
        return check(value)
    if isinstance(value, list):
        for item in value:
            _check_strings(item, check)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_line(key)
            _check_strings(item, check)
    return value


def check_json(value: Any) -> Any:
    """Every string in a JSON value, keys included, must be a `Line`."""
    return _check_strings(value, check_line)


def check_json_text(value: Any) -> Any:
    """Every string in a JSON value must be `Text` (keys: `Line`)."""
    return _check_strings(value, check_text)


Text = Annotated[str, AfterValidator(check_text)]
Line = Annotated[str, AfterValidator(check_line)]
Json = Annotated[Any, AfterValidator(check_json)]
JsonText = Annotated[Any, AfterValidator(check_json_text)]
#: An id (a member's, a relationship's ...): one line of at most 64 characters, the longest any
#: table keeps; in a path, a query or a body.
Id = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(check_line)]

_CHECKS = frozenset({check_text, check_line, check_json, check_json_text})


def is_text_check(metadata: Any) -> bool:
    """Whether a piece of pydantic field metadata is one of these checks (for the structural test)."""
    return getattr(metadata, "func", None) in _CHECKS


def header_safe(value: str, limit: int = 200) -> str:
    """One line for a mail header: every control character or line separator becomes a space,
    runs of spaces one space, and the result is cut at `limit` characters."""
    return " ".join(_NOT_LINE.sub(" ", value).split())[:limit]
