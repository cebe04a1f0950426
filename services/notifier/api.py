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
from pydantic import Field, model_validator

from connect.models import Closed
from connect.paging import DEFAULT_LIMIT, Page, PageCursor, PageLimit
from connect.auth import Member, current_member
from connect.cursors import CursorCodec, fingerprint, open_position, seal_position
from connect.etags import matches
from connect.text import Id, Line
from services.notifier.services import NotificationFeed

router = APIRouter(prefix="/v1", tags=["notifications"])

CURSOR_KIND = "notifications"
IfNoneMatch = Annotated[Line | None, Header(max_length=1000, description="The `ETag` of the last page seen: "
                                                                       "304 with no body when nothing changed")]


def feed(request: Request) -> NotificationFeed:
    return request.app.state.container.service("notifier").feed


class MarkRead(Closed):
    """Either `ids` (these entries) or `through` (this entry and every older one)."""

    ids: list[Id] | None = Field(None, min_length=1, max_length=100,
                                 description="Entries to mark read (ids from the feed).")
    through: Id | None = Field(None, description="Mark this entry and every older one read; "
                                                 "entries that arrived after it stay unread.")

    @model_validator(mode="after")
    def _one_of(self) -> "MarkRead":
        if (self.ids is None) == (self.through is None):
            raise ValueError("give either ids or through")
        return self


class CounterpartOut(Closed):
    member_id: str = Field(description="Membership number of the other member the notification is about")
    name: str = Field(description="Their name as it stands now (\"a Connect member\" once erased)")


class NotificationOut(Closed):
    id: str = Field(description="The entry's id: the id of the event it tells of")
    kind: str = Field(description="What happened, as the email's template is named (e.g. `proposal_received`)")
    title: str = Field(description="What the email's subject said, rendered now")
    occurred_at: str = Field(description="RFC 3339, UTC: when it happened")
    read: bool = Field(description="Whether the member marked it read")
    read_at: str | None = Field(description="RFC 3339, UTC: when it was marked read; null while unread")
    relationship_id: str | None = Field(description="The relationship it is about, if any")
    counterpart: CounterpartOut | None = Field(description="The other member it is about, if any")
    portal_path: str = Field(description="The portal page the email links to")
    meeting_id: str | None = Field(None, description="The meeting it is about (meeting notifications only)")
    message_id: str | None = Field(None, description="The message it is about (new messages only)")
    tool_id: str | None = Field(None, description="The workspace tool it is about, if any")
    support_request_id: str | None = Field(None, description="The support request it is about, if any")


class NotificationPageOut(Page[NotificationOut]):
    """Newest first."""
    unread_count: int = Field(description="Entries not read yet, in the whole feed")


class UnreadCountOut(Closed):
    unread_count: int = Field(description="Entries not read yet, after this change")


@router.get("/notifications", summary="My notifications, newest first, with the unread count "
                                      "(ETag / If-None-Match: 304 when unchanged)",
            response_model=None,
            responses={200: {"model": NotificationPageOut, "description": "One page of the feed (`ETag`, and "
                                                                          "`Link: rel=\"next\"` when there is more)"},
                       304: {"description": "Unchanged since the `If-None-Match` ETag: no body"}})
def list_notifications(request: Request, member: Member = Depends(current_member),
                       unread: bool = Query(False, description="Only the entries not read yet."),
                       cursor: PageCursor = None, limit: PageLimit = DEFAULT_LIMIT,
                       if_none_match: IfNoneMatch = None) -> Response:
    """What a portal shows as "what's new": one entry per email Connect sent me, fed by the same
    events and rules, each once.  Poll with the last `ETag` in `If-None-Match`."""
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
                                           "(`through`); answers the unread count",
             response_model=UnreadCountOut,
             responses={404: {"description": "An id that is not one of my notifications (nothing changes)"}})
def mark_read(body: MarkRead, request: Request, member: Member = Depends(current_member)) -> dict[str, int]:
    """Entries already read stay as they were; every id must be one of mine, or nothing changes."""
    if body.through is not None:
        return feed(request).mark_read_through(member.id, body.through)
    return feed(request).mark_read(member.id, list(body.ids or []))
