"""Notifications: the feed of what Connect told the member by email, newest first, with links to
the pages the emails link to."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from portal.forms import text
from portal.web import api_for, checked_form, local_path, redirect, render, signed_in

router = APIRouter()


@router.get("/notifications")
async def notifications(request: Request, cursor: str | None = None) -> Response:
    member = signed_in(request)
    feed = await api_for(request, member).notifications(cursor=cursor)
    # The API's portal_path is relative to the portal; anything else is not followed.
    links = {item["id"]: local_path(item.get("portal_path"), "/", "") for item in feed["items"]}
    return await render(request, "notifications.html", feed=feed, links=links, first_page=cursor is None)


@router.post("/notifications/read")
async def mark_read(request: Request, form: FormData = Depends(checked_form)) -> Response:
    member = signed_in(request)
    await api_for(request, member).mark_notifications_read(text(form, "through"))
    return redirect("/notifications", "Every notification is marked read.", request)
