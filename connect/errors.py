"""What a use case raises when it refuses: domain errors, in the domain's own words.

Use cases never speak HTTP.  They raise one of these families (or a service's own
subclass naming the refusal, e.g. `MentorUnavailable(Conflict)`), and return plain
results; `connect.problems` is the one place that turns each family into a
problem+json answer (status, title, type, extension members, headers).  The CLI
and the consumers see the same errors and print or log them.

`code` names the refusal for clients: it becomes the problem `type`
(`https://connect.example.org/problems/<code>`).  `facts` are what the client needs
to act on it (the current status, the relationship in the way...); they become the
problem's extension members, as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar


class DomainError(Exception):
    """Base of every refusal a use case may raise."""

    code: ClassVar[str] = "conflict"

    def __init__(self, detail: str, *, code: str | None = None, **facts: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code  # type: ignore[misc]
        self.facts = facts


class NotFound(DomainError):
    """No such thing for this caller (strangers learn nothing, not even that it exists)."""

    code = "not-found"


class Forbidden(DomainError):
    """The caller is known but may not do this."""

    code = "forbidden"


class Conflict(DomainError):
    """Not allowed in the current state of things."""

    code = "conflict"


class PreconditionRequired(DomainError):
    """A change that must name the version it was based on did not (no If-Match)."""

    code = "precondition-required"


class PreconditionFailed(DomainError):
    """The version the change was based on is not the current one; `etag`, when given, is."""

    code = "stale-etag"

    def __init__(self, detail: str, *, etag: str | None = None, **facts: Any) -> None:
        super().__init__(detail, **({"etag": etag} if etag is not None else {}), **facts)
        self.etag = etag


class Unavailable(DomainError):
    """Something the use case needs does not answer right now; worth retrying later."""

    code = "unavailable"

    def __init__(self, detail: str, *, retry_after_seconds: int | None = None, **facts: Any) -> None:
        super().__init__(detail, **facts)
        self.retry_after_seconds = retry_after_seconds


class Invalid(DomainError):
    """Bad input, field by field: `errors` maps a path to a message (or lists (path, message)
    pairs, where a path may come twice), in the order found."""

    code = "validation"

    def __init__(self, errors: Mapping[str, str] | Sequence[tuple[str, str]], detail: str | None = None) -> None:
        self.errors = errors
        super().__init__(detail or "; ".join(f"{path}: {message}" for path, message in self.field_errors))

    @property
    def field_errors(self) -> list[tuple[str, str]]:
        if isinstance(self.errors, Mapping):
            return list(self.errors.items())
        return [(path, message) for path, message in self.errors]
