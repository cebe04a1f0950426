"""Entity tags: one spelling of a versioned resource's tag, and the If-Match rules.

A change to a resource that others may change too (a proposal, a tool) names the
version it was based on; the use case compares it with the current one inside its
transaction, so two editors racing cannot both win.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from fastapi import Header

from connect.errors import PreconditionFailed, PreconditionRequired
from connect.text import Line

#: An `If-Match` header (entity tags, or `*`).
IfMatch = Annotated[Line | None, Header(max_length=1000, description="The ETag the change is based on")]
#: An `If-None-Match` header: 304 Not Modified when it names the current ETag.
IfNoneMatch = Annotated[Line | None, Header(max_length=1000, description="The ETag you hold: 304 while current")]


def entity_tag(resource_id: str, version: int) -> str:
    """The strong tag of one version of a resource: it changes with every saved version and only then."""
    return f'"{resource_id}.{version}"'


def content_tag(*parts: Any) -> str:
    """The strong tag of a representation without a version counter: a digest of what it holds."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return '"%s"' % hashlib.sha256(canonical.encode()).hexdigest()[:24]


def matches(if_match: str, current: str) -> bool:
    """Whether an If-Match value (a list of tags, or `*`) names the current tag; weak tags compare too."""
    candidates = [tag.strip() for tag in if_match.split(",")]
    return any(tag == "*" or tag.removeprefix("W/") == current for tag in candidates)


def require_if_match(if_match: str | None, detail: str) -> str:
    """A change that must name the version it is based on and did not (no If-Match) is refused with `detail`."""
    if not if_match:
        raise PreconditionRequired(detail)
    return if_match


def require_current(if_match: str, current: str, detail: str) -> None:
    """Refuse, with `detail` and the current tag to reload from, a change based on another version."""
    if not matches(if_match, current):
        raise PreconditionFailed(detail, etag=current)


def check_if_match(if_match: str | None, current: str | None, detail: str) -> None:
    """For a change that may name its version: refuse (412, with the current tag) when it names one
    that is not current, or names any while there is nothing yet.  No `If-Match`: go ahead."""
    if if_match is not None and (current is None or not matches(if_match, current)):
        raise PreconditionFailed(detail, etag=current)


def not_modified(if_none_match: str | None, current: str) -> bool:
    """Whether an `If-None-Match` value (a list of tags, or `*`) names the current tag (weak comparison)."""
    return if_none_match is not None and matches(if_none_match, current)
