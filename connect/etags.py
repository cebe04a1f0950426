"""Entity tags: one spelling of a versioned resource's tag, and the If-Match rules.

A change to a resource that others may change too (a proposal, a tool) names the
version it was based on; the use case compares it with the current one inside its
transaction, so two editors racing cannot both win.
"""

from __future__ import annotations

from connect.errors import PreconditionFailed, PreconditionRequired


def entity_tag(resource_id: str, version: int) -> str:
    """The strong tag of one version of a resource: it changes with every saved version and only then."""
    return f'"{resource_id}.{version}"'


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
