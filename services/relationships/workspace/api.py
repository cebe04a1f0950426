"""Routes of the workspace room: parse, call the use case, answer.

Each route owns its status code and headers; POSTs honour `Idempotency-Key`
like the rest of the relationships API (see `http.py`)."""

from __future__ import annotations

from typing import Any, Callable, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from connect.auth import Member, current_member
from connect.errors import Invalid
from connect.uow import Receipt
from services.relationships.adapters.idempotency import Answer
from services.relationships.http import idempotent, relationships, respond
from services.relationships.proposals.domain import Role, Status
from services.relationships.workspace.domain import (MAX_AGENDA_CHARS, MAX_LOCATION_CHARS, MAX_MEETING_MINUTES,
                                                     MAX_MESSAGE_BODY_CHARS, MAX_TOOL_ITEM_CHARS, MAX_TOOL_ITEMS,
                                                     MAX_TOOL_TEXT_CHARS, MIN_MEETING_MINUTES, MeetingDetails,
                                                     ToolKind)
from services.relationships.workspace.services import WorkspaceService

router = APIRouter(prefix="/v1", tags=["workspace"])

Mode = Literal["in_person", "video", "email"]
ToolKindPath = Literal["swot", "gstar", "goals"]
Item = Field(max_length=MAX_TOOL_ITEM_CHARS)
Text = Field("", max_length=MAX_TOOL_TEXT_CHARS)


def workspace(request: Request) -> WorkspaceService:
    return relationships(request).workspace


def with_etag(view: dict[str, Any]) -> Answer:
    return Answer(200, view, {"ETag": view["etag"]})


def meeting_arranged(view: dict[str, Any]) -> Answer:
    return Answer(201, view, {"Location": f"/v1/relationships/{view['relationship_id']}/meetings/{view['id']}"})


def tool_created(view: dict[str, Any]) -> Answer:
    return Answer(201, view, {"ETag": view["etag"], "Location": f"/v1/relationships/{view['relationship_id']}"
                                                                f"/tools/{view['kind']}/{view['id']}"})


def message_sent(relationship_id: str) -> Callable[[dict[str, Any]], Answer]:
    """The presenter of a message sent in this relationship (a message's view does not name it)."""
    return lambda view: Answer(201, view, {"Location": f"/v1/relationships/{relationship_id}/messages"})


def partner_nudged(view: dict[str, Any]) -> Answer:
    return Answer(202, view, {})


class MeetingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    starts_at: AwareDatetime = Field(description="When it starts, with an offset (stored and shown in UTC).")
    duration_minutes: int = Field(ge=MIN_MEETING_MINUTES, le=MAX_MEETING_MINUTES)
    mode: Mode
    location_or_link: str = Field("", max_length=MAX_LOCATION_CHARS)
    agenda: str = Field("", max_length=MAX_AGENDA_CHARS)
    time_zone: str = Field("Europe/London", max_length=64,
                           description="IANA zone the emails show the local time in.")


class MeetingPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    starts_at: AwareDatetime | None = None
    duration_minutes: int | None = Field(None, ge=MIN_MEETING_MINUTES, le=MAX_MEETING_MINUTES)
    mode: Mode | None = None
    location_or_link: str | None = Field(None, max_length=MAX_LOCATION_CHARS)
    agenda: str | None = Field(None, max_length=MAX_AGENDA_CHARS)
    time_zone: str | None = Field(None, max_length=64)


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=2000)


class SwotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strengths: list[str] = Field(default_factory=list, max_length=MAX_TOOL_ITEMS)
    weaknesses: list[str] = Field(default_factory=list, max_length=MAX_TOOL_ITEMS)
    opportunities: list[str] = Field(default_factory=list, max_length=MAX_TOOL_ITEMS)
    threats: list[str] = Field(default_factory=list, max_length=MAX_TOOL_ITEMS)


class GstarIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    goals: str = Text
    situation: str = Text
    thinking: str = Text
    actions: str = Text
    results: str = Text


class GoalsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    goal: str = Field(min_length=1, max_length=MAX_TOOL_TEXT_CHARS)
    tasks: list[str] = Field(default_factory=list, max_length=MAX_TOOL_ITEMS)
    success_criteria: str = Text
    target_date: str | None = Field(None, description="ISO date, e.g. 2027-03-31")
    status: Literal["not_started", "in_progress", "achieved", "dropped"] = "not_started"
    learning_outcomes: str = Field("", max_length=MAX_TOOL_TEXT_CHARS,
                                   description="What you learned; shown in your CPD record.")


class AgreementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_methods: str = Text
    meeting_frequency: str = Text
    meeting_place: str = Text
    arranges_meetings: Literal["mentor", "mentee", "both"] | None = None
    other_practicalities: str = Text


TOOL_MODELS: dict[str, type[BaseModel]] = {"swot": SwotIn, "gstar": GstarIn, "goals": GoalsIn}


def _tool_content(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """Validate against the kind's model here (the path decides the model, so FastAPI cannot);
    a bad body is refused exactly like one FastAPI validated."""
    try:
        return TOOL_MODELS[kind].model_validate(body).model_dump()
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=MAX_MESSAGE_BODY_CHARS)


# --- dashboard ---------------------------------------------------------------------------


@router.get("/dashboard", summary="My relationships with dates, unread messages, next meeting and nudge")
def my_dashboard(request: Request, member: Member = Depends(current_member),
                 role: Literal["mentor", "mentee"] | None = None,
                 status: list[Status] = Query(default=[]), cursor: str | None = None,
                 limit: int = Query(20, ge=1, le=100)) -> dict[str, Any]:
    return workspace(request).my_dashboard(member.id, role=Role(role) if role else None, statuses=status,
                                           cursor=cursor, limit=limit)


@router.get("/relationships/{relationship_id}/dashboard", summary="One relationship's dashboard entry")
def relationship_dashboard(relationship_id: str, request: Request,
                           member: Member = Depends(current_member)) -> dict[str, Any]:
    return workspace(request).relationship_dashboard(member.id, relationship_id)


# --- meetings ------------------------------------------------------------------------------


@router.get("/relationships/{relationship_id}/meetings", summary="The relationship's meetings, in time order")
def list_meetings(relationship_id: str, request: Request, member: Member = Depends(current_member)) -> dict[str, Any]:
    return workspace(request).list_meetings(member.id, relationship_id)


@router.post("/relationships/{relationship_id}/meetings", status_code=201,
             summary="Arrange a meeting; the partner gets an .ics invitation")
def schedule_meeting(relationship_id: str, body: MeetingIn, request: Request,
                     member: Member = Depends(current_member),
                     idempotency_key: str | None = Header(None)) -> JSONResponse:
    details = MeetingDetails(**body.model_dump())

    def run(receipt: Receipt | None) -> dict[str, Any]:
        return workspace(request).schedule_meeting(member.id, relationship_id, details, receipt)

    return idempotent(request, member, idempotency_key, body.model_dump(mode="json"), run, meeting_arranged)


@router.get("/relationships/{relationship_id}/meetings/{meeting_id}", summary="One meeting")
def get_meeting(relationship_id: str, meeting_id: str, request: Request,
                member: Member = Depends(current_member)) -> dict[str, Any]:
    return workspace(request).get_meeting(member.id, relationship_id, meeting_id)


@router.patch("/relationships/{relationship_id}/meetings/{meeting_id}",
              summary="Change a future meeting (same calendar UID, SEQUENCE + 1)")
def change_meeting(relationship_id: str, meeting_id: str, body: MeetingPatch, request: Request,
                   member: Member = Depends(current_member)) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    nulls = [name for name, value in changes.items() if value is None]
    if nulls:
        raise Invalid({name: "must not be null" for name in nulls})
    return workspace(request).change_meeting(member.id, relationship_id, meeting_id, changes)


@router.delete("/relationships/{relationship_id}/meetings/{meeting_id}",
               summary="Cancel a future meeting; the partner gets an .ics cancellation")
def cancel_meeting(relationship_id: str, meeting_id: str, request: Request, body: CancelIn | None = None,
                   member: Member = Depends(current_member)) -> dict[str, Any]:
    return workspace(request).cancel_meeting(member.id, relationship_id, meeting_id, (body or CancelIn()).reason)


# --- first conversation and tools ---------------------------------------------------------


@router.get("/relationships/{relationship_id}/first-conversation",
            summary="Ice-breakers, what you share, the agreement record and the tools so far")
def first_conversation(relationship_id: str, request: Request,
                       member: Member = Depends(current_member)) -> dict[str, Any]:
    return workspace(request).first_conversation(member.id, relationship_id)


@router.get("/relationships/{relationship_id}/agreement", summary="The agreement record (404 until saved)")
def get_agreement(relationship_id: str, request: Request, member: Member = Depends(current_member)) -> JSONResponse:
    return respond(with_etag(workspace(request).get_agreement(member.id, relationship_id)))


@router.put("/relationships/{relationship_id}/agreement",
            summary="Record or amend how you contact each other, how often you meet, who arranges meetings")
def put_agreement(relationship_id: str, body: AgreementIn, request: Request,
                  member: Member = Depends(current_member), if_match: str | None = Header(None)) -> JSONResponse:
    created, view = workspace(request).put_agreement(member.id, relationship_id, if_match, body.model_dump())
    return JSONResponse(view, status_code=201 if created else 200, headers={"ETag": view["etag"]})


@router.get("/relationships/{relationship_id}/tools/{kind}", summary="The SWOT, G-STAR or Goals tools saved so far")
def list_tools(relationship_id: str, kind: ToolKindPath, request: Request,
               member: Member = Depends(current_member)) -> dict[str, Any]:
    return workspace(request).list_tools(member.id, relationship_id, ToolKind(kind))


@router.post("/relationships/{relationship_id}/tools/{kind}", status_code=201,
             summary="Add a SWOT, G-STAR or Goals tool (open once accepted)")
def create_tool(relationship_id: str, kind: ToolKindPath, body: dict[str, Any], request: Request,
                member: Member = Depends(current_member), idempotency_key: str | None = Header(None)) -> JSONResponse:
    content = _tool_content(kind, body)

    def run(receipt: Receipt | None) -> dict[str, Any]:
        return workspace(request).create_tool(member.id, relationship_id, ToolKind(kind), content, receipt)

    return idempotent(request, member, idempotency_key, body, run, tool_created)


@router.get("/relationships/{relationship_id}/tools/{kind}/{tool_id}",
            summary="One tool: its current content and every version with author and time")
def get_tool(relationship_id: str, kind: ToolKindPath, tool_id: str, request: Request,
             member: Member = Depends(current_member)) -> JSONResponse:
    return respond(with_etag(workspace(request).get_tool(member.id, relationship_id, ToolKind(kind), tool_id)))


@router.put("/relationships/{relationship_id}/tools/{kind}/{tool_id}",
            summary="Amend a tool (If-Match with its ETag; 412 when someone saved in between)")
def amend_tool(relationship_id: str, kind: ToolKindPath, tool_id: str, body: dict[str, Any], request: Request,
               member: Member = Depends(current_member), if_match: str | None = Header(None)) -> JSONResponse:
    content = _tool_content(kind, body)
    view = workspace(request).amend_tool(member.id, relationship_id, ToolKind(kind), tool_id, if_match, content)
    return respond(with_etag(view))


class LearningOutcomesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcomes: str = Field(max_length=MAX_TOOL_TEXT_CHARS)


@router.get("/relationships/{relationship_id}/learning-outcomes",
            summary="What I noted I learned in this relationship (private; in my CPD record)")
def get_learning_outcomes(relationship_id: str, request: Request,
                          member: Member = Depends(current_member)) -> dict[str, Any]:
    return workspace(request).get_learning_outcomes(member.id, relationship_id)


@router.put("/relationships/{relationship_id}/learning-outcomes",
            summary="Note what I learned (private to me; also after completion)")
def put_learning_outcomes(relationship_id: str, body: LearningOutcomesIn, request: Request,
                          member: Member = Depends(current_member)) -> dict[str, Any]:
    return workspace(request).put_learning_outcomes(member.id, relationship_id, body.outcomes)


# --- messages -------------------------------------------------------------------------------


@router.get("/relationships/{relationship_id}/messages",
            summary="Messages between the two of you, newest first; those to you are marked read")
def list_messages(relationship_id: str, request: Request, member: Member = Depends(current_member),
                  cursor: str | None = None, limit: int = Query(20, ge=1, le=100)) -> dict[str, Any]:
    return workspace(request).list_messages(member.id, relationship_id, cursor, limit)


@router.post("/relationships/{relationship_id}/messages", status_code=201,
             summary="Send a message; your partner is emailed (one email per burst)")
def post_message(relationship_id: str, body: MessageIn, request: Request, member: Member = Depends(current_member),
                 idempotency_key: str | None = Header(None)) -> JSONResponse:
    def run(receipt: Receipt | None) -> dict[str, Any]:
        return workspace(request).post_message(member.id, relationship_id, body.body, receipt)

    return idempotent(request, member, idempotency_key, body.model_dump(), run, message_sent(relationship_id))


@router.post("/relationships/{relationship_id}/nudge", status_code=202,
             summary="Nudge a partner who has been quiet for 2 weeks (at most weekly)")
def nudge_partner(relationship_id: str, request: Request, member: Member = Depends(current_member),
                  idempotency_key: str | None = Header(None)) -> JSONResponse:
    def run(receipt: Receipt | None) -> dict[str, Any]:
        return workspace(request).nudge_partner(member.id, relationship_id, receipt)

    return idempotent(request, member, idempotency_key, {}, run, partner_nudged)
