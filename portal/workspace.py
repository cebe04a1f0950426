"""The relationship dashboard once a proposal is accepted: First conversation, Tools (SWOT, G-STAR,
Goals, Meetings), messages, nudge, learning outcomes; and the CPD record."""

from __future__ import annotations

from asyncio import gather
from datetime import date, datetime, time
from typing import Any, Awaitable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from portal.connect_api import ApiError
from portal.forms import number, optional, text
from portal.web import PageNotFound, api_for, checked_form, idempotency_key, redirect, render, signed_in

router = APIRouter()

TOOL_NAMES = {"swot": "SWOT", "gstar": "G-STAR", "goals": "Goals"}
SWOT_PARTS = ("strengths", "weaknesses", "opportunities", "threats")
GSTAR_PARTS = ("goals", "situation", "thinking", "actions", "results")
GOAL_STATUSES = ("not_started", "in_progress", "achieved", "dropped")
TIME_ZONES = [(zone, zone.replace("_", " ")) for zone in (
    "Europe/London", "Europe/Dublin", "Europe/Paris", "UTC", "America/New_York", "Asia/Singapore", "Asia/Dubai",
    "Australia/Sydney")]
FORM_ERRORS = (409, 412, 422)
STALE_MEETING = ("The meeting was changed by someone else after you opened this page, so your change was not "
                 "saved. Here is the meeting as it is now: make your change again if you still want it.")
STALE_MEETING_CANCEL = ("The meeting was changed by someone else after you opened this page, so it was not "
                        "cancelled. Here is the meeting as it is now: cancel it again if you still want to.")


def _lines(form: FormData, name: str) -> list[str]:
    return [line.strip() for line in text(form, name).splitlines() if line.strip()]


def tool_body(kind: str, form: FormData) -> dict[str, Any]:
    if kind == "swot":
        return {part: _lines(form, part) for part in SWOT_PARTS}
    if kind == "gstar":
        return {part: text(form, part) for part in GSTAR_PARTS}
    return {"goal": text(form, "goal"), "tasks": _lines(form, "tasks"), "success_criteria": text(form, "success_criteria"),
            "target_date": optional(form, "target_date"), "status": text(form, "status") or "not_started",
            "learning_outcomes": text(form, "learning_outcomes")}


def _kind(kind: str) -> str:
    if kind not in TOOL_NAMES:
        raise PageNotFound()
    return kind


def _party_names(member_id: str, parties: dict[str, Any]) -> dict[str, str]:
    """A name for each party's member id (authors, organisers): "You" for the member."""
    names = {p["member_id"]: p["name"] for p in (parties["mentor"], parties["mentee"]) if p}
    names[member_id] = "You"
    return names


async def _names(request: Request, relationship_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The relationship's details and a name for each party's member id."""
    member = signed_in(request)
    rel = (await api_for(request, member).relationship(relationship_id)).body
    return rel, _party_names(member.id, rel)


async def _refusals(call: Awaitable[Any]) -> dict[str, str]:
    """Make the change a form asked for: no errors when it is made, else what to show on the form."""
    try:
        await call
    except ApiError as exc:
        if exc.status not in FORM_ERRORS:
            raise
        return exc.field_errors() or {"": exc.detail}
    return {}


async def _unless_refused(call: Awaitable[dict[str, Any]]) -> dict[str, Any] | None:
    """What a workspace read gives, or None while the workspace is closed (not accepted yet)."""
    try:
        return await call
    except ApiError as exc:
        if exc.status in (403, 409):
            return None
        raise


@router.get("/relationships/{relationship_id}/dashboard")
async def dashboard(request: Request, relationship_id: str) -> Response:
    member = signed_in(request)
    api = api_for(request, member)
    board, notes = await gather(api.dashboard(relationship_id), _unless_refused(api.learning_outcomes(relationship_id)))
    return await render(request, "dashboard.html", board=board, notes=notes)


@router.post("/relationships/{relationship_id}/learning-outcomes")
async def save_learning(request: Request, relationship_id: str, form: FormData = Depends(checked_form)) -> Response:
    member = signed_in(request)
    await api_for(request, member).put_learning_outcomes(relationship_id, text(form, "outcomes"))
    return redirect(f"/relationships/{relationship_id}/dashboard",
                    "Your learning outcomes are saved (only you see them; they appear in your CPD record).", request)


@router.get("/relationships/{relationship_id}/first-conversation")
async def first_conversation(request: Request, relationship_id: str) -> Response:
    member = signed_in(request)
    api = api_for(request, member)
    # The first conversation carries the agreement as it stands (its etag included): one call fewer.
    (rel, names), talk = await gather(_names(request, relationship_id), api.first_conversation(relationship_id))
    agreement = talk.get("agreement")
    return await render(request, "first_conversation.html", rel=rel, talk=talk, names=names, agreement=agreement,
                        etag=agreement["etag"] if agreement else "", errors={},
                        values=(agreement["content"] if agreement else {}))


@router.post("/relationships/{relationship_id}/first-conversation")
async def save_agreement(request: Request, relationship_id: str, form: FormData = Depends(checked_form)) -> Response:
    member = signed_in(request)
    api = api_for(request, member)
    body = {"contact_methods": text(form, "contact_methods"), "meeting_frequency": text(form, "meeting_frequency"),
            "meeting_place": text(form, "meeting_place"), "arranges_meetings": optional(form, "arranges_meetings"),
            "other_practicalities": text(form, "other_practicalities")}
    try:
        await api.put_agreement(relationship_id, body, optional(form, "etag"))
    except ApiError as exc:
        if exc.status not in FORM_ERRORS:
            raise
        rel, names = await _names(request, relationship_id)
        agreement = await api.agreement(relationship_id)
        errors = exc.field_errors() if exc.status == 422 else {
            "": "Your partner saved the agreement while you were editing it; here is their version." if exc.status == 412
            else exc.detail}
        return await render(request, "first_conversation.html", status=exc.status, rel=rel, names=names,
                            talk=await api.first_conversation(relationship_id),
                            agreement=agreement.body if agreement else None,
                            etag=agreement.etag if agreement else "", errors=errors,
                            values=body if exc.status == 422 or agreement is None else agreement.body["content"])
    return redirect(f"/relationships/{relationship_id}/first-conversation", "Your agreement is saved.", request)


@router.get("/relationships/{relationship_id}/tools")
async def tools(request: Request, relationship_id: str) -> Response:
    member = signed_in(request)
    # One request: every kind's tools with the parties' names (the relationship's details, with
    # its proposal and history, are needed only to head the page while the tools are closed).
    found = await _unless_refused(api_for(request, member).all_tools(relationship_id))
    if found is None:
        rel, names = await _names(request, relationship_id)
        return await render(request, "tools.html", rel=rel, saved={}, names=names, tool_names=TOOL_NAMES)
    rel = {**found, "id": found["relationship_id"]}
    saved = {kind: found[kind]["items"] for kind in TOOL_NAMES}
    return await render(request, "tools.html", rel=rel, saved=saved, names=_party_names(member.id, found),
                        tool_names=TOOL_NAMES)


@router.get("/relationships/{relationship_id}/tools/{kind}/new")
async def new_tool(request: Request, relationship_id: str, kind: str) -> Response:
    rel, _names_ = await _names(request, relationship_id)
    return await render(request, "tool_edit.html", rel=rel, kind=_kind(kind), tool=None, values={}, errors={},
                        etag="", tool_names=TOOL_NAMES, statuses=GOAL_STATUSES)


@router.post("/relationships/{relationship_id}/tools/{kind}/new")
async def create_tool(request: Request, relationship_id: str, kind: str,
                      form: FormData = Depends(checked_form)) -> Response:
    member = signed_in(request)
    body = tool_body(_kind(kind), form)
    try:
        made = await api_for(request, member).create_tool(relationship_id, kind, body, idempotency_key(form))
    except ApiError as exc:
        if exc.status not in FORM_ERRORS:
            raise
        rel, _names_ = await _names(request, relationship_id)
        return await render(request, "tool_edit.html", status=exc.status, rel=rel, kind=kind, tool=None, values=body,
                            errors=exc.field_errors() or {"": exc.detail}, etag="", tool_names=TOOL_NAMES,
                            statuses=GOAL_STATUSES)
    return redirect(f"/relationships/{relationship_id}/tools/{kind}/{made['id']}",
                    f"Your {TOOL_NAMES[kind]} is saved. Your partner can see it too.", request)


@router.get("/relationships/{relationship_id}/tools/{kind}/{tool_id}")
async def tool_page(request: Request, relationship_id: str, kind: str, tool_id: str) -> Response:
    member = signed_in(request)
    found, (rel, names) = await gather(api_for(request, member).tool(relationship_id, _kind(kind), tool_id),
                                       _names(request, relationship_id))
    return await render(request, "tool_edit.html", rel=rel, kind=kind, tool=found.body, values=found.body["content"],
                        errors={}, etag=found.etag, names=names, tool_names=TOOL_NAMES, statuses=GOAL_STATUSES)


@router.post("/relationships/{relationship_id}/tools/{kind}/{tool_id}")
async def amend_tool(request: Request, relationship_id: str, kind: str, tool_id: str,
                     form: FormData = Depends(checked_form)) -> Response:
    member = signed_in(request)
    api = api_for(request, member)
    body = tool_body(_kind(kind), form)
    try:
        await api.amend_tool(relationship_id, kind, tool_id, body, text(form, "etag"))
    except ApiError as exc:
        if exc.status not in FORM_ERRORS + (428,):
            raise
        found = await api.tool(relationship_id, kind, tool_id)
        rel, names = await _names(request, relationship_id)
        errors = exc.field_errors() if exc.status == 422 else {
            "": "Your partner saved a newer version while you were editing; here it is. Make your change again."
            if exc.status == 412 else exc.detail}
        return await render(request, "tool_edit.html", status=exc.status, rel=rel, kind=kind, tool=found.body,
                            values=body if exc.status == 422 else found.body["content"], errors=errors,
                            etag=found.etag, names=names, tool_names=TOOL_NAMES, statuses=GOAL_STATUSES)
    return redirect(f"/relationships/{relationship_id}/tools/{kind}/{tool_id}",
                    f"A new version of your {TOOL_NAMES[kind]} is saved.", request)


# --- meetings -----------------------------------------------------------------------------------


def meeting_body(form: FormData, *, partial: bool = False) -> tuple[dict[str, Any], dict[str, str]]:
    """The API's meeting fields from the form (the start as a local date and time in a zone)."""
    errors: dict[str, str] = {}
    zone_name = text(form, "time_zone") or "Europe/London"
    body: dict[str, Any] = {"duration_minutes": number(form, "duration_minutes"), "mode": optional(form, "mode"),
                            "location_or_link": text(form, "location_or_link"), "agenda": text(form, "agenda"),
                            "time_zone": zone_name}
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        errors["time_zone"] = "Choose a time zone from the list."
        zone = ZoneInfo("UTC")
    try:
        day = date.fromisoformat(text(form, "date"))
        at = time.fromisoformat(text(form, "time"))
        body["starts_at"] = datetime.combine(day, at, tzinfo=zone).isoformat()
    except ValueError:
        errors["starts_at"] = "Give the date (YYYY-MM-DD) and time (HH:MM) of the meeting."
    if partial:
        body = {k: v for k, v in body.items() if v is not None}
    return body, errors


def meeting_values(meeting: dict[str, Any]) -> dict[str, Any]:
    local = datetime.fromisoformat(meeting["local_starts_at"])
    return {**meeting, "date": local.date().isoformat(), "time": local.strftime("%H:%M")}


@router.get("/relationships/{relationship_id}/meetings")
async def meetings(request: Request, relationship_id: str) -> Response:
    member = signed_in(request)
    (rel, names), listing = await gather(_names(request, relationship_id),
                                         api_for(request, member).meetings(relationship_id))
    return await render(request, "meetings.html", rel=rel, names=names, meetings=listing["items"], values={},
                        errors={}, zones=TIME_ZONES)


@router.post("/relationships/{relationship_id}/meetings")
async def schedule(request: Request, relationship_id: str, form: FormData = Depends(checked_form)) -> Response:
    member = signed_in(request)
    api = api_for(request, member)
    body, errors = meeting_body(form)
    if not errors:
        errors = await _refusals(api.schedule_meeting(relationship_id, body, idempotency_key(form)))
    if errors:
        rel, names = await _names(request, relationship_id)
        listing = await api.meetings(relationship_id)
        return await render(request, "meetings.html", status=422, rel=rel, names=names, meetings=listing["items"],
                            values={**body, "date": text(form, "date"), "time": text(form, "time")}, errors=errors,
                            zones=TIME_ZONES)
    return redirect(f"/relationships/{relationship_id}/meetings",
                    "The meeting is saved and your partner has been sent an invitation.", request)


@router.get("/relationships/{relationship_id}/meetings/{meeting_id}")
async def meeting_page(request: Request, relationship_id: str, meeting_id: str) -> Response:
    member = signed_in(request)
    (rel, names), meeting = await gather(_names(request, relationship_id),
                                         api_for(request, member).meeting(relationship_id, meeting_id))
    return await render(request, "meeting.html", rel=rel, names=names, meeting=meeting,
                        values=meeting_values(meeting), errors={}, zones=TIME_ZONES)


@router.post("/relationships/{relationship_id}/meetings/{meeting_id}")
async def change(request: Request, relationship_id: str, meeting_id: str,
                 form: FormData = Depends(checked_form)) -> Response:
    member = signed_in(request)
    api = api_for(request, member)
    body, errors = meeting_body(form, partial=True)
    stale = False
    if not errors:
        try:
            await api.change_meeting(relationship_id, meeting_id, body, optional(form, "etag"))
        except ApiError as exc:
            if exc.status not in FORM_ERRORS:
                raise
            stale = exc.status == 412
            errors = {"": STALE_MEETING} if stale else exc.field_errors() or {"": exc.detail}
    if errors:
        (rel, names), meeting = await gather(_names(request, relationship_id), api.meeting(relationship_id, meeting_id))
        typed = {} if stale else {**body, "date": text(form, "date"), "time": text(form, "time")}
        return await render(request, "meeting.html", status=412 if stale else 422, rel=rel, names=names,
                            meeting=meeting, values={**meeting_values(meeting), **typed}, errors=errors,
                            zones=TIME_ZONES)
    return redirect(f"/relationships/{relationship_id}/meetings",
                    "The meeting is changed and your partner has been sent the update.", request)


@router.post("/relationships/{relationship_id}/meetings/{meeting_id}/cancel")
async def cancel(request: Request, relationship_id: str, meeting_id: str,
                 form: FormData = Depends(checked_form)) -> Response:
    member = signed_in(request)
    try:
        await api_for(request, member).cancel_meeting(relationship_id, meeting_id, optional(form, "reason"),
                                                      optional(form, "etag"))
    except ApiError as exc:
        if exc.status not in FORM_ERRORS:
            raise
        return redirect(f"/relationships/{relationship_id}/meetings/{meeting_id}",
                        STALE_MEETING_CANCEL if exc.status == 412 else exc.detail, request)
    return redirect(f"/relationships/{relationship_id}/meetings",
                    "The meeting is cancelled and your partner has been told.", request)


# --- messages and nudges ----------------------------------------------------------------------------


@router.get("/relationships/{relationship_id}/messages")
async def messages(request: Request, relationship_id: str, cursor: str | None = None) -> Response:
    member = signed_in(request)
    api = api_for(request, member)
    # The dashboard names the partner and says whether a nudge is allowed: the relationship's
    # details (proposal, history) are not needed here.
    listing, board = await gather(api.messages(relationship_id, cursor=cursor), api.dashboard(relationship_id))
    return await render(request, "messages.html", rel=board, listing=listing, board=board, errors={}, values={})


@router.post("/relationships/{relationship_id}/messages")
async def post_message(request: Request, relationship_id: str, form: FormData = Depends(checked_form)) -> Response:
    member = signed_in(request)
    api = api_for(request, member)
    body = text(form, "body")
    try:
        await api.post_message(relationship_id, body, idempotency_key(form))
    except ApiError as exc:
        if exc.status not in FORM_ERRORS:
            raise
        listing, board = await gather(api.messages(relationship_id), api.dashboard(relationship_id))
        return await render(request, "messages.html", status=exc.status, rel=board, listing=listing, board=board,
                            errors=exc.field_errors() or {"": exc.detail}, values={"body": body})
    return redirect(f"/relationships/{relationship_id}/messages", "Your message is sent.", request)


@router.post("/relationships/{relationship_id}/nudge")
async def nudge(request: Request, relationship_id: str, form: FormData = Depends(checked_form)) -> Response:
    member = signed_in(request)
    try:
        await api_for(request, member).nudge(relationship_id, idempotency_key(form))
    except ApiError as exc:
        if exc.status not in FORM_ERRORS + (429,):
            raise
        return redirect(f"/relationships/{relationship_id}/messages", exc.detail, request)
    return redirect(f"/relationships/{relationship_id}/messages",
                    "Your partner has been sent a friendly reminder by email.", request)


# --- CPD ----------------------------------------------------------------------------------------------


@router.get("/cpd")
async def cpd(request: Request) -> Response:
    member = signed_in(request)
    return await render(request, "cpd.html", record=await api_for(request, member).cpd())


@router.get("/cpd.csv")
async def cpd_csv(request: Request) -> Response:
    member = signed_in(request)
    answer = await api_for(request, member).cpd_csv()
    return Response(answer.content, media_type=answer.headers.get("content-type", "text/csv"),
                    headers={"Content-Disposition": answer.headers.get(
                        "content-disposition", 'attachment; filename="connect-cpd.csv"')})
