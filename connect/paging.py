"""One way to page, for every list of the API.

A list answers `{"items": [...], "next_cursor": "..."|null}` and, when there is a next page, a
`Link: <...>; rel="next"` header naming it (RFC 8288); it takes `?limit=` (1 to 100, default 20,
validated here for every list alike) and `?cursor=` (the previous page's `next_cursor`, sealed by
`connect.cursors`).  Search pages in its POST body (`page.size`, `page.cursor`) with the same
bounds and answers `next_cursor` the same way.
"""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Query, Request, Response
from pydantic import Field

from connect.models import Closed
from connect.text import Line

DEFAULT_LIMIT = 20
MAX_LIMIT = 100

#: `?limit=`: how many items a page holds.
PageLimit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page, 1 to %d" % MAX_LIMIT)]
#: `?cursor=`: where the page starts.
PageCursor = Annotated[Line | None, Query(description="`next_cursor` of the previous page of the same listing")]

ItemT = TypeVar("ItemT")


class Page(Closed, Generic[ItemT]):
    """One page of a `?cursor=` listing; a subclass names the item and says the order in its
    docstring (the schema's description), e.g. `class MeetingListOut(Page[MeetingOut])`."""

    items: list[ItemT] = Field(description="This page's items, in the listing's order (see the list's description)")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


def link_next(request: Request, response: Response, next_cursor: str | None) -> None:
    """Name the next page in a `Link` header: this request's URL with `cursor` replaced."""
    if next_cursor is not None:
        url = request.url.remove_query_params("cursor").include_query_params(cursor=next_cursor)
        response.headers["Link"] = '<%s>; rel="next"' % url
