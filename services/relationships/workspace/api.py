"""Thin HTTP layer of the relationship workspace and the account: parse, call
`WorkspaceService`, answer.  POSTs honour `Idempotency-Key` like the rest of
the relationships API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from connect.auth import Member, current_member
from connect.problems import field_error, validation_problem
from services.relationships.proposals.api import _idempotent
from services.relationships.proposals.domain import Role, Status
from services.relationships.workspace.domain import (MAX_AGENDA_CHARS, MAX_LOCATION_CHARS, MAX_MEETING_MINUTES,
                                                     MAX_MESSAGE_BODY_CHARS, MAX_OUTCOME_CHARS,
                                                     MAX_SUPPORT_MESSAGE_CHARS, MAX_TOOL_ITEM_CHARS, MAX_TOOL_ITEMS,
                                                     MAX_TOOL_TEXT_CHARS, MIN_MEETING_MINUTES, MeetingDetails,
                                                     SupportKind, SupportOutcome, ToolKind)
from services.relationships.proposals.services import Responder
from services.relationships.workspace.services import WorkspaceService

router = APIRouter(prefix="/v1", tags=["workspace"])

Mode = Literal["in_person", "video", "email"]
ToolKindPath = Literal["swot", "gstar", "goals"]
Item = Field(max_length=MAX_TOOL_ITEM_CHARS)
Text = Field("", max_length=MAX_TOOL_TEXT_CHARS)


def workspace(request: Request) -> WorkspaceService:
    return request.app.state.container.service("relationships").workspace


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
    """Validate against the kind's model here (the path decides the model, so FastAPI cannot)."""
    from pydantic import ValidationError

    try:
        return TOOL_MODELS[kind].model_validate(body).model_dump()
    except ValidationError as exc:
        raise validation_problem([field_error(".".join(str(p) for p in err["loc"]) or "$", err["msg"], err["type"])
                                  for err in exc.errors()]) from None


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=MAX_MESSAGE_BODY_CHARS)


class SupportRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: SupportKind
    relationship_id: str | None = Field(None, max_length=36)
    message: str = Field("", max_length=MAX_SUPPORT_MESSAGE_CHARS)
    on_behalf_of: str | None = Field(None, max_length=64,
                                     description="Support role only: the member who asked by phone, email or mail.")


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: SupportOutcome
    note: str | None = Field(None, max_length=MAX_OUTCOME_CHARS)


def _created(view: dict[str, Any], location: str, etag: str | None = None) -> JSONResponse:
    headers = {"Location": location}
    if etag:
        headers["ETag"] = etag
    return JSONResponse(view, status_code=201, headers=headers)


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

    def run(respond: Responder | None) -> tuple[int, dict[str, Any], dict[str, str]]:
        view = workspace(request).schedule_meeting(member.id, relationship_id, details, respond)
        return 201, view, {"Location": f"/v1/relationships/{relationship_id}/meetings/{view['id']}"}

    return _idempotent(request, member, idempotency_key, body.model_dump(mode="json"), run)


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
        raise validation_problem([field_error(name, "must not be null") for name in nulls])
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
    from connect.problems import Problem

    view = workspace(request).get_agreement(member.id, relationship_id)
    if view is None:
        raise Problem(404, "No agreement has been recorded yet.", type_="not-found")
    return JSONResponse(view, headers={"ETag": view["etag"]})


@router.put("/relationships/{relationship_id}/agreement",
            summary="Record or amend how you contact each other, how often you meet, who arranges meetings")
def put_agreement(relationship_id: str, body: AgreementIn, request: Request,
                  member: Member = Depends(current_member), if_match: str | None = Header(None)) -> JSONResponse:
    status, view = workspace(request).put_agreement(member.id, relationship_id, if_match, body.model_dump())
    return JSONResponse(view, status_code=status, headers={"ETag": view["etag"]})


@router.get("/relationships/{relationship_id}/tools/{kind}", summary="The SWOT, G-STAR or Goals tools saved so far")
def list_tools(relationship_id: str, kind: ToolKindPath, request: Request,
               member: Member = Depends(current_member)) -> dict[str, Any]:
    return workspace(request).list_tools(member.id, relationship_id, ToolKind(kind))


@router.post("/relationships/{relationship_id}/tools/{kind}", status_code=201,
             summary="Add a SWOT, G-STAR or Goals tool (open once accepted)")
def create_tool(relationship_id: str, kind: ToolKindPath, body: dict[str, Any], request: Request,
                member: Member = Depends(current_member), idempotency_key: str | None = Header(None)) -> JSONResponse:
    content = _tool_content(kind, body)

    def run(respond: Responder | None) -> tuple[int, dict[str, Any], dict[str, str]]:
        view = workspace(request).create_tool(member.id, relationship_id, ToolKind(kind), content, respond)
        return 201, view, {"ETag": view["etag"],
                           "Location": f"/v1/relationships/{relationship_id}/tools/{kind}/{view['id']}"}

    return _idempotent(request, member, idempotency_key, body, run)


@router.get("/relationships/{relationship_id}/tools/{kind}/{tool_id}",
            summary="One tool: its current content and every version with author and time")
def get_tool(relationship_id: str, kind: ToolKindPath, tool_id: str, request: Request,
             member: Member = Depends(current_member)) -> JSONResponse:
    view = workspace(request).get_tool(member.id, relationship_id, ToolKind(kind), tool_id)
    return JSONResponse(view, headers={"ETag": view["etag"]})


@router.put("/relationships/{relationship_id}/tools/{kind}/{tool_id}",
            summary="Amend a tool (If-Match with its ETag; 412 when someone saved in between)")
def amend_tool(relationship_id: str, kind: ToolKindPath, tool_id: str, body: dict[str, Any], request: Request,
               member: Member = Depends(current_member), if_match: str | None = Header(None)) -> JSONResponse:
    content = _tool_content(kind, body)
    view = workspace(request).amend_tool(member.id, relationship_id, ToolKind(kind), tool_id, if_match, content)
    return JSONResponse(view, headers={"ETag": view["etag"]})


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
    def run(respond: Responder | None) -> tuple[int, dict[str, Any], dict[str, str]]:
        view = workspace(request).post_message(member.id, relationship_id, body.body, respond)
        return 201, view, {"Location": f"/v1/relationships/{relationship_id}/messages"}

    return _idempotent(request, member, idempotency_key, body.model_dump(), run)


@router.post("/relationships/{relationship_id}/nudge", status_code=202,
             summary="Nudge a partner who has been quiet for 2 weeks (at most weekly)")
def nudge_partner(relationship_id: str, request: Request, member: Member = Depends(current_member),
                  idempotency_key: str | None = Header(None)) -> JSONResponse:
    def run(respond: Responder | None) -> tuple[int, dict[str, Any], dict[str, str]]:
        return 202, workspace(request).nudge_partner(member.id, relationship_id, respond), {}

    return _idempotent(request, member, idempotency_key, {}, run)


# --- account, CPD, support --------------------------------------------------------------------


@router.delete("/members/me", summary="Delete my account: withdraw everywhere, leave search, refuse my tokens")
def delete_account(request: Request, member: Member = Depends(current_member)) -> dict[str, Any]:
    return workspace(request).delete_account(member)


@router.get("/members/me/cpd", summary="My mentoring activity for a CPD log (format=json or csv)",
            response_model=None)
def cpd_record(request: Request, member: Member = Depends(current_member),
               format: Literal["json", "csv"] = "json") -> Any:
    service = workspace(request)
    record = service.cpd_record(member.id)
    if format == "csv":
        stamp = datetime.fromisoformat(record["generated_at"].replace("Z", "+00:00")).date().isoformat()
        return Response(service.cpd_csv(record), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="connect-cpd-{stamp}.csv"'})
    return record


@router.post("/support-requests", status_code=201, summary="Ask the customer service team for help or erasure")
def create_support_request(body: SupportRequestIn, request: Request, member: Member = Depends(current_member),
                           idempotency_key: str | None = Header(None)) -> JSONResponse:
    def run(respond: Responder | None) -> tuple[int, dict[str, Any], dict[str, str]]:
        view = workspace(request).create_support_request(member, body.kind, body.relationship_id, body.message,
                                                         respond, body.on_behalf_of)
        return 201, view, {"Location": f"/v1/support-requests/{view['id']}"}

    return _idempotent(request, member, idempotency_key, body.model_dump(mode="json"), run)


@router.get("/support-requests", summary="My support requests (the support role: everyone's)")
def list_support_requests(request: Request, member: Member = Depends(current_member),
                          status: Literal["open", "resolved"] | None = None,
                          limit: int = Query(50, ge=1, le=200)) -> dict[str, Any]:
    return workspace(request).list_support_requests(member, status, limit)


@router.get("/support-requests/{request_id}", summary="One support request (its author or the support role)")
def get_support_request(request_id: str, request: Request, member: Member = Depends(current_member)) -> dict[str, Any]:
    return workspace(request).get_support_request(member, request_id)


@router.post("/support-requests/{request_id}/resolve",
             summary="Support role: resolve; approving an erasure anonymises the member everywhere")
def resolve_support_request(request_id: str, body: ResolveIn, request: Request,
                            member: Member = Depends(current_member)) -> dict[str, Any]:
    return workspace(request).resolve_support_request(member, request_id, body.outcome, body.note)


@router.get("/support/relationships/{relationship_id}",
            summary="Support role: a relationship's metadata, never message bodies or tool contents")
def support_relationship(relationship_id: str, request: Request,
                         member: Member = Depends(current_member)) -> dict[str, Any]:
    return workspace(request).support_relationship_view(member, relationship_id)
