"""The notification feed of the signed-in member: list it, mark it read.

A portal polls `GET /v1/notifications` (cheaply: send the last `ETag` back in `If-None-Match`
and an unchanged feed answers 304 with no body) instead of five lists; what each entry says
is what the matching email said (docs/notifications.md).
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from connect.auth import Member, current_member
from connect.cursors import CursorCodec, fingerprint, open_position, seal_position
from connect.etags import matches
from connect.text import Id, Line
from services.notifier.services import NotificationFeed

router = APIRouter(prefix="/v1", tags=["notifications"])

CURSOR_KIND = "notifications"
PageCursor = Annotated[Line | None, Query(description="`next_cursor` of the previous page")]
IfNoneMatch = Annotated[Line | None, Header(max_length=1000)]


def feed(request: Request) -> NotificationFeed:
    return request.app.state.container.service("notifier").feed


class MarkRead(BaseModel):
    """Either `ids` (these entries) or `through` (this entry and every older one)."""

    model_config = ConfigDict(extra="forbid")

    ids: list[Id] | None = Field(None, min_length=1, max_length=100,
                                 description="Entries to mark read (ids from the feed).")
    through: Id | None = Field(None, description="Mark this entry and every older one read; "
                                                 "entries that arrived after it stay unread.")

    @model_validator(mode="after")
    def _one_of(self) -> "MarkRead":
        if (self.ids is None) == (self.through is None):
            raise ValueError("give either ids or through")
        return self


@router.get("/notifications", summary="My notifications, newest first, with the unread count "
                                      "(ETag / If-None-Match: 304 when unchanged)")
def list_notifications(request: Request, member: Member = Depends(current_member),
                       unread: bool = Query(False, description="Only the entries not read yet."),
                       cursor: PageCursor = None, limit: int = Query(20, ge=1, le=100),
                       if_none_match: IfNoneMatch = None) -> Response:
    codec: CursorCodec = request.app.state.container.cursors
    query = fingerprint(unread)
    after = open_position(codec, cursor, kind=CURSOR_KIND, member_id=member.id, query=query)
    view: dict[str, Any] = feed(request).page(member.id, unread_only=unread, after=after, limit=limit)
    sealed = seal_position(codec, view["next_cursor"], kind=CURSOR_KIND, member_id=member.id, query=query)
    body = orjson.dumps({**view, "next_cursor": sealed})
    # The tag of this very answer: cheap (no version to keep), and a portal polling an unchanged
    # feed gets a 304 without a body.
    etag = 'W/"%s"' % hashlib.sha256(body).hexdigest()[:32]
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if sealed is not None:
        headers["Link"] = '<%s>; rel="next"' % request.url.include_query_params(cursor=sealed)
    if if_none_match and matches(if_none_match, etag.removeprefix("W/")):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


@router.post("/notifications/read", summary="Mark entries read (`ids`), or one entry and every older one "
                                           "(`through`); answers the unread count")
def mark_read(body: MarkRead, request: Request, member: Member = Depends(current_member)) -> dict[str, int]:
    if body.through is not None:
        return feed(request).mark_read_through(member.id, body.through)
    return feed(request).mark_read(member.id, list(body.ids or []))
