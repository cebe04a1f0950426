"""Routes of the workspace room: parse, call the use case, answer.

Each route owns its status code and headers; POSTs honour `Idempotency-Key`
like the rest of the relationships API (see `http.py`)."""

from __future__ import annotations

from typing import Annotated, Any, Callable, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, Field, StrictInt, ValidationError

from connect.models import Closed
from connect.paging import Page
from connect.auth import Member, current_member
from connect.cursors import fingerprint
from connect.errors import Invalid
from connect.etags import IfNoneMatch, not_modified
from connect.text import Id, JsonText, Line, Text
from connect.uow import Receipt
from services.relationships.adapters.idempotency import Answer
from services.relationships.http import (IdempotencyKey, IfMatch, PageCursor, PageLimit, idempotent, listing_query,
                                         open_after, relationships, respond, seal_after)
from services.relationships.proposals.api import PersonOut, RelationshipItemOut
from services.relationships.proposals.domain import Role, Status
from services.relationships.workspace.domain import (MAX_AGENDA_CHARS, MAX_LOCATION_CHARS, MAX_MEETING_MINUTES,
                                                     MAX_MESSAGE_BODY_CHARS, MAX_TOOL_ITEM_CHARS, MAX_TOOL_ITEMS,
                                                     MAX_TOOL_TEXT_CHARS, MIN_MEETING_MINUTES, MeetingDetails,
                                                     ToolKind)
from services.relationships.workspace.services import WorkspaceService

router = APIRouter(prefix="/v1", tags=["workspace"])

Mode = Literal["in_person", "video", "email"]
ToolKindPath = Literal["swot", "gstar", "goals"]
#: One item of a SWOT list or of a goal's tasks.
Item = Annotated[Text, Field(max_length=MAX_TOOL_ITEM_CHARS)]


def workspace(request: Request) -> WorkspaceService:
    return relationships(request).workspace


def with_etag(view: dict[str, Any]) -> Answer:
    return Answer(200, view, {"ETag": view["etag"]})


def meeting_arranged(view: dict[str, Any]) -> Answer:
    return Answer(201, view, {"ETag": view["etag"],
                              "Location": f"/v1/relationships/{view['relationship_id']}/meetings/{view['id']}"})


def tool_created(view: dict[str, Any]) -> Answer:
    return Answer(201, view, {"ETag": view["etag"], "Location": f"/v1/relationships/{view['relationship_id']}"
                                                                f"/tools/{view['kind']}/{view['id']}"})


def message_sent(relationship_id: str) -> Callable[[dict[str, Any]], Answer]:
    """The presenter of a message sent in this relationship (a message's view does not name it)."""
    return lambda view: Answer(201, view, {"Location": f"/v1/relationships/{relationship_id}/messages"})


def partner_nudged(view: dict[str, Any]) -> Answer:
    return Answer(202, view, {})


class MeetingIn(Closed):
    starts_at: AwareDatetime = Field(description="When it starts, with an offset (stored and shown in UTC).")
    duration_minutes: StrictInt = Field(ge=MIN_MEETING_MINUTES, le=MAX_MEETING_MINUTES,
                                        description="Length in minutes")
    mode: Mode = Field(description="in_person, video or email")
    location_or_link: Line = Field("", max_length=MAX_LOCATION_CHARS, description="Where, or the video link")
    agenda: Text = Field("", max_length=MAX_AGENDA_CHARS, description="What you mean to talk about")
    time_zone: Line = Field("Europe/London", max_length=64,
                            description="IANA zone the emails show the local time in.")


class MeetingPatch(Closed):
    starts_at: AwareDatetime | None = Field(None, description="The new start, with an offset")
    duration_minutes: StrictInt | None = Field(None, ge=MIN_MEETING_MINUTES, le=MAX_MEETING_MINUTES,
                                               description="The new length in minutes")
    mode: Mode | None = Field(None, description="in_person, video or email")
    location_or_link: Line | None = Field(None, max_length=MAX_LOCATION_CHARS, description="Where, or the link")
    agenda: Text | None = Field(None, max_length=MAX_AGENDA_CHARS, description="The new agenda")
    time_zone: Line | None = Field(None, max_length=64, description="IANA zone for the emails' local time")


class CancelIn(Closed):
    reason: Text | None = Field(None, max_length=2000, description="Why, for the partner's cancellation")


class SwotIn(Closed):
    strengths: list[Item] = Field(default_factory=list, max_length=MAX_TOOL_ITEMS, description="Strengths")
    weaknesses: list[Item] = Field(default_factory=list, max_length=MAX_TOOL_ITEMS, description="Weaknesses")
    opportunities: list[Item] = Field(default_factory=list, max_length=MAX_TOOL_ITEMS, description="Opportunities")
    threats: list[Item] = Field(default_factory=list, max_length=MAX_TOOL_ITEMS, description="Threats")


class GstarIn(Closed):
    goals: Text = Field("", max_length=MAX_TOOL_TEXT_CHARS, description="G: the goals")
    situation: Text = Field("", max_length=MAX_TOOL_TEXT_CHARS, description="S: the situation now")
    thinking: Text = Field("", max_length=MAX_TOOL_TEXT_CHARS, description="T: thinking about options")
    actions: Text = Field("", max_length=MAX_TOOL_TEXT_CHARS, description="A: the actions agreed")
    results: Text = Field("", max_length=MAX_TOOL_TEXT_CHARS, description="R: the results")


class GoalsIn(Closed):
    goal: Text = Field(min_length=1, max_length=MAX_TOOL_TEXT_CHARS, description="The goal")
    tasks: list[Item] = Field(default_factory=list, max_length=MAX_TOOL_ITEMS, description="Tasks towards it")
    success_criteria: Text = Field("", max_length=MAX_TOOL_TEXT_CHARS, description="How you will know")
    target_date: Line | None = Field(None, max_length=32, description="ISO date, e.g. 2027-03-31")
    status: Literal["not_started", "in_progress", "achieved", "dropped"] = Field(
        "not_started", description="not_started, in_progress, achieved or dropped")
    learning_outcomes: Text = Field("", max_length=MAX_TOOL_TEXT_CHARS,
                                    description="What you learned; shown in your CPD record.")


class AgreementIn(Closed):
    contact_methods: Text = Field("", max_length=MAX_TOOL_TEXT_CHARS, description="How you contact each other")
    meeting_frequency: Text = Field("", max_length=MAX_TOOL_TEXT_CHARS, description="How often you meet")
    meeting_place: Text = Field("", max_length=MAX_TOOL_TEXT_CHARS, description="Where you meet")
    arranges_meetings: Literal["mentor", "mentee", "both"] | None = Field(
        None, description="Who sets meetings up: mentor, mentee or both")
    other_practicalities: Text = Field("", max_length=MAX_TOOL_TEXT_CHARS, description="Anything else agreed")


TOOL_MODELS: dict[str, type[BaseModel]] = {"swot": SwotIn, "gstar": GstarIn, "goals": GoalsIn}


def _tool_content(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """Validate against the kind's model here (the path decides the model, so FastAPI cannot);
    a bad body is refused exactly like one FastAPI validated."""
    try:
        return TOOL_MODELS[kind].model_validate(body).model_dump()
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


class MessageIn(Closed):
    body: Text = Field(min_length=1, max_length=MAX_MESSAGE_BODY_CHARS, description="The message")


# --- what the routes answer ----------------------------------------------------------------


Time = Field(description="RFC 3339, UTC")


class MeetingOut(Closed):
    id: str = Field(description="The meeting's id (also the calendar entry's UID)")
    relationship_id: str = Field(description="The relationship it belongs to")
    organiser_id: str = Field(description="Who arranged it")
    starts_at: str = Time
    ends_at: str = Time
    duration_minutes: int = Field(description="Length in minutes")
    mode: Mode = Field(description="in_person, video or email")
    location_or_link: str = Field(description="Where, or the video link")
    agenda: str = Field(description="What you mean to talk about")
    time_zone: str = Field(description="IANA zone the emails show the local time in")
    local_starts_at: str = Field(description="The start in `time_zone`, RFC 3339 with its offset")
    status: Literal["scheduled", "cancelled"] = Field(description="scheduled or cancelled")
    sequence: int = Field(description="The calendar SEQUENCE: +1 with each change or the cancellation")
    created_at: str = Time
    updated_at: str = Time
    etag: str = Field(description="The meeting's entity tag (also the `ETag` header of one meeting): "
                                  "`If-Match` on a change or cancellation, `If-None-Match` on a read")


class MeetingListOut(Page[MeetingOut]):
    """In time order."""


class NextMeetingOut(Closed):
    id: str = Field(description="The meeting's id")
    starts_at: str = Time
    duration_minutes: int = Field(description="Length in minutes")
    mode: Mode = Field(description="in_person, video or email")


class DashboardItemOut(RelationshipItemOut):
    started_at: str | None = Field(description="RFC 3339, UTC: when it was accepted; null before")
    planned_end: str | None = Field(description="RFC 3339, UTC: started_at + the planned duration")
    unread_messages: int = Field(description="Messages to me not read yet")
    next_meeting: NextMeetingOut | None = Field(description="The next scheduled meeting, if any")
    first_conversation_open: bool = Field(description="Whether the workspace is open (accepted)")
    partner_last_active_at: str | None = Field(description="RFC 3339, UTC: my partner's last message, meeting "
                                                           "or tool change")
    can_nudge: bool = Field(description="Whether POST .../nudge would be accepted now")


class DashboardOut(Page[DashboardItemOut]):
    """Newest change first (the same listing as /v1/relationships)."""


class SwotOut(SwotIn):
    """A SWOT analysis: four lists of text."""


class GstarOut(GstarIn):
    """A G-STAR record: goals, situation, thinking, actions, results."""


class GoalsOut(GoalsIn):
    """One goal with its tasks, success criteria, target date and status."""


class AgreementOut(AgreementIn):
    """How the two of you work together (the first conversation's agreement record)."""


class ToolVersionOut(Closed):
    version: int = Field(description="1 for the first save, +1 for each amendment")
    content: SwotOut | GstarOut | GoalsOut | AgreementOut = Field(description="The tool's content at this version")
    author_id: str = Field(description="Who saved this version")
    at: str = Time


class ToolOut(Closed):
    """A tool as it stands; the response's `ETag` header carries `etag` too."""

    id: str = Field(description="The tool's id")
    relationship_id: str = Field(description="The relationship it belongs to")
    kind: Literal["swot", "gstar", "goals", "agreement"] = Field(description="Which tool")
    version: int = Field(description="The current version")
    content: SwotOut | GstarOut | GoalsOut | AgreementOut = Field(description="The current content, by kind")
    author_id: str = Field(description="Who saved the current version")
    updated_at: str = Time
    created_at: str = Time
    etag: str = Field(description="Entity tag of the current version, for `If-Match` on an amendment")
    versions: list[ToolVersionOut] | None = Field(None, description="Every version, oldest first (one tool's "
                                                                     "page only)")


class ToolListOut(Page[ToolOut]):
    """Oldest first."""
    kind: ToolKindPath = Field(description="Which tool")


class AllToolsOut(Closed):
    """Every kind of tool of one relationship, each kind's first page (oldest first), and the
    parties, to name who saved each version.  A kind's `next_cursor` continues in
    `GET /v1/relationships/{relationship_id}/tools/{kind}`."""

    relationship_id: str = Field(description="The relationship")
    status: Status = Field(description="accepted, or completed or withdrawn after acceptance (tools stay readable)")
    my_role: Literal["mentor", "mentee"] = Field(description="My side of it")
    mentor: PersonOut = Field(description="The mentor")
    mentee: PersonOut = Field(description="The mentee")
    counterpart: PersonOut = Field(description="The other party")
    swot: ToolListOut = Field(description="The SWOT analyses")
    gstar: ToolListOut = Field(description="The G-STAR records")
    goals: ToolListOut = Field(description="The goals")


def _example_tool(kind: str, content: dict[str, Any]) -> dict[str, Any]:
    at = "2026-12-01T09:30:00Z"
    return {"id": "5f0c6a58-0d8e-4c59-9a43-8f1d2b7e6a10", "relationship_id": "0b7d1c9e-3f51-4a8e-9d0c-2e6f4a1b8c37",
            "kind": kind, "version": 2, "content": content, "author_id": "DEMO000001", "updated_at": at,
            "created_at": "2026-11-20T17:05:00Z", "etag": '"5f0c6a58-0d8e-4c59-9a43-8f1d2b7e6a10.2"'}


ALL_TOOLS_EXAMPLE = {
    "relationship_id": "0b7d1c9e-3f51-4a8e-9d0c-2e6f4a1b8c37", "status": "accepted", "my_role": "mentee",
    "mentor": {"member_id": "DEMO000001", "name": "Ada Mentor"},
    "mentee": {"member_id": "DEMO000201", "name": "Ben Mentee"},
    "counterpart": {"member_id": "DEMO000001", "name": "Ada Mentor"},
    "swot": {"kind": "swot", "next_cursor": None, "items": [_example_tool("swot", {
        "strengths": ["Claims knowledge"], "weaknesses": ["Public speaking"], "opportunities": ["A new team"],
        "threats": []})]},
    "gstar": {"kind": "gstar", "next_cursor": None, "items": []},
    "goals": {"kind": "goals", "next_cursor": None, "items": [_example_tool("goals", {
        "goal": "Pass the ACII exam", "tasks": ["Book the exam"], "success_criteria": "A pass",
        "target_date": "2027-04-30", "status": "in_progress", "learning_outcomes": "How to plan revision"})]},
}


class ConnectionOut(Closed):
    kind: str = Field(description="What you share: sectors, employer, region, interests, qualifications, languages")
    values: list[str] = Field(description="The shared values")


class FirstConversationOut(Closed):
    relationship_id: str = Field(description="The relationship")
    connections: list[ConnectionOut] = Field(description="What the two of you share")
    ice_breakers: list[str] = Field(description="Questions to start the first conversation")
    agreement: ToolOut | None = Field(description="The agreement record, once saved")
    tools: dict[str, int] = Field(description="How many SWOT, G-STAR and Goals tools there are")


class LearningOutcomesOut(Closed):
    relationship_id: str = Field(description="The relationship")
    outcomes: str = Field(description="What I noted I learned (private to me)")
    updated_at: str | None = Field(description="RFC 3339, UTC; null before the first save")


class MessageOut(Closed):
    id: str = Field(description="The message's id")
    sender_id: str = Field(description="Who wrote it")
    recipient_id: str = Field(description="Who it is for")
    body: str = Field(description="The text")
    sent_at: str = Time
    read_at: str | None = Field(description="RFC 3339, UTC: when the recipient read it; null while unread")
    mine: bool = Field(description="Whether I sent it")
    recipient_emailed: bool | None = Field(None, description="On sending: whether this message starts an email "
                                                             "to the recipient (one per burst)")


class MessagePageOut(Page[MessageOut]):
    """Newest first."""
    unread: int = Field(description="Messages to me still unread in this relationship")


class NudgeOut(Closed):
    relationship_id: str = Field(description="The relationship")
    nudged: str = Field(description="Membership number of the partner nudged")
    at: str = Time


# --- dashboard ---------------------------------------------------------------------------


@router.get("/dashboard", response_model=DashboardOut, summary="My relationships with dates, unread messages, next meeting and nudge")
def my_dashboard(request: Request, member: Member = Depends(current_member),
                 role: Literal["mentor", "mentee"] | None = None,
                 status: list[Status] = Query(default=[]), cursor: PageCursor = None,
                 limit: PageLimit = 20, *, response: Response) -> dict[str, Any]:
    # The same listing as GET /v1/relationships: a cursor of either continues both.
    query = listing_query(role, status)
    after = open_after(request, member.id, cursor, kind="relationships", query=query)
    view = workspace(request).my_dashboard(member.id, role=Role(role) if role else None, statuses=status,
                                           after=after, limit=limit)
    return seal_after(request, member.id, view, kind="relationships", query=query, response=response)


@router.get("/relationships/{relationship_id}/dashboard", response_model=DashboardItemOut, summary="One relationship's dashboard entry")
def relationship_dashboard(relationship_id: Id, request: Request,
                           member: Member = Depends(current_member)) -> dict[str, Any]:
    return workspace(request).relationship_dashboard(member.id, relationship_id)


# --- meetings ------------------------------------------------------------------------------


@router.get("/relationships/{relationship_id}/meetings", response_model=MeetingListOut, summary="The relationship's meetings, in time order")
def list_meetings(relationship_id: Id, request: Request, member: Member = Depends(current_member),
                  cursor: PageCursor = None, limit: PageLimit = 20, *, response: Response) -> dict[str, Any]:
    query = fingerprint(relationship_id)
    after = open_after(request, member.id, cursor, kind="meetings", query=query)
    view = workspace(request).list_meetings(member.id, relationship_id, after, limit)
    return seal_after(request, member.id, view, kind="meetings", query=query, response=response)


@router.post("/relationships/{relationship_id}/meetings", status_code=201, response_model=MeetingOut,
             summary="Arrange a meeting; the partner gets an .ics invitation")
def schedule_meeting(relationship_id: Id, body: MeetingIn, request: Request,
                     member: Member = Depends(current_member),
                     idempotency_key: IdempotencyKey = None) -> JSONResponse:
    details = MeetingDetails(**body.model_dump())

    def run(receipt: Receipt | None) -> dict[str, Any]:
        return workspace(request).schedule_meeting(member.id, relationship_id, details, receipt)

    return idempotent(request, member, idempotency_key, body.model_dump(mode="json"), run, meeting_arranged)


@router.get("/relationships/{relationship_id}/meetings/{meeting_id}", response_model=MeetingOut,
            responses={304: {"description": "Not modified: `If-None-Match` names the current ETag"}},
            summary="One meeting (ETag, If-None-Match)")
def get_meeting(relationship_id: Id, meeting_id: Id, request: Request, member: Member = Depends(current_member),
                if_none_match: IfNoneMatch = None) -> Response:
    view = workspace(request).get_meeting(member.id, relationship_id, meeting_id)
    if not_modified(if_none_match, view["etag"]):
        return Response(status_code=304, headers={"ETag": view["etag"]})
    return respond(with_etag(view))


@router.patch("/relationships/{relationship_id}/meetings/{meeting_id}", response_model=MeetingOut,
              summary="Change a future meeting (same calendar UID, SEQUENCE + 1)")
def change_meeting(relationship_id: Id, meeting_id: Id, body: MeetingPatch, request: Request,
                   member: Member = Depends(current_member), if_match: IfMatch = None) -> JSONResponse:
    changes = body.model_dump(exclude_unset=True)
    nulls = [name for name, value in changes.items() if value is None]
    if nulls:
        raise Invalid({name: "must not be null" for name in nulls})
    return respond(with_etag(workspace(request).change_meeting(member.id, relationship_id, meeting_id, changes,
                                                               if_match)))


@router.delete("/relationships/{relationship_id}/meetings/{meeting_id}", response_model=MeetingOut,
               summary="Cancel a future meeting; the partner gets an .ics cancellation")
def cancel_meeting(relationship_id: Id, meeting_id: Id, request: Request, body: CancelIn | None = None,
                   member: Member = Depends(current_member), if_match: IfMatch = None) -> JSONResponse:
    view = workspace(request).cancel_meeting(member.id, relationship_id, meeting_id, (body or CancelIn()).reason,
                                             if_match)
    return respond(with_etag(view))


# --- first conversation and tools ---------------------------------------------------------


@router.get("/relationships/{relationship_id}/first-conversation", response_model=FirstConversationOut,
            summary="Ice-breakers, what you share, the agreement record and the tools so far")
def first_conversation(relationship_id: Id, request: Request,
                       member: Member = Depends(current_member)) -> dict[str, Any]:
    return workspace(request).first_conversation(member.id, relationship_id)


@router.get("/relationships/{relationship_id}/agreement", response_model=ToolOut, summary="The agreement record (404 until saved)")
def get_agreement(relationship_id: Id, request: Request, member: Member = Depends(current_member)) -> JSONResponse:
    return respond(with_etag(workspace(request).get_agreement(member.id, relationship_id)))


@router.put("/relationships/{relationship_id}/agreement", response_model=ToolOut,
         responses={201: {"model": ToolOut, "description": "The agreement was recorded (first save)"},
                    428: {"description": "No `If-Match` on an amendment of a saved agreement"}},
            summary="Record or amend how you contact each other, how often you meet, who arranges meetings")
def put_agreement(relationship_id: Id, body: AgreementIn, request: Request,
                  member: Member = Depends(current_member), if_match: IfMatch = None) -> JSONResponse:
    created, view = workspace(request).put_agreement(member.id, relationship_id, if_match, body.model_dump())
    return JSONResponse(view, status_code=201 if created else 200, headers={"ETag": view["etag"]})


@router.get("/relationships/{relationship_id}/tools/{kind}", response_model=ToolListOut, summary="The SWOT, G-STAR or Goals tools saved so far")
def list_tools(relationship_id: Id, kind: ToolKindPath, request: Request, member: Member = Depends(current_member),
               cursor: PageCursor = None, limit: PageLimit = 20, *, response: Response) -> dict[str, Any]:
    query = fingerprint(relationship_id, kind)
    after = open_after(request, member.id, cursor, kind="tools", query=query)
    view = workspace(request).list_tools(member.id, relationship_id, ToolKind(kind), after, limit)
    return seal_after(request, member.id, view, kind="tools", query=query, response=response)


@router.get("/relationships/{relationship_id}/tools", response_model=AllToolsOut,
            summary="Every SWOT, G-STAR and Goals tool of the relationship in one call (each kind's first page)",
            description="What a Tools page shows, in one request: each kind's first `limit` tools (`limit` "
                        "counts per kind; oldest first) and the parties' names.  The same rules as each kind's own listing: 404 to "
                        "anyone who is not a party, 409 `workspace-not-open` before the relationship is "
                        "accepted.  A kind with more tools has a `next_cursor` for "
                        "`GET /v1/relationships/{relationship_id}/tools/{kind}?cursor=`.",
            responses={200: {"content": {"application/json": {"example": ALL_TOOLS_EXAMPLE}}}})
def list_all_tools(relationship_id: Id, request: Request, member: Member = Depends(current_member),
                   limit: PageLimit = 20) -> dict[str, Any]:
    view = workspace(request).all_tools(member.id, relationship_id, limit)
    for kind in TOOL_MODELS:
        view[kind] = seal_after(request, member.id, view[kind], kind="tools", query=fingerprint(relationship_id, kind))
    return view


@router.post("/relationships/{relationship_id}/tools/{kind}", status_code=201, response_model=ToolOut,
             summary="Add a SWOT, G-STAR or Goals tool (open once accepted)")
def create_tool(relationship_id: Id, kind: ToolKindPath, body: dict[Line, JsonText], request: Request,
                member: Member = Depends(current_member), idempotency_key: IdempotencyKey = None) -> JSONResponse:
    content = _tool_content(kind, body)

    def run(receipt: Receipt | None) -> dict[str, Any]:
        return workspace(request).create_tool(member.id, relationship_id, ToolKind(kind), content, receipt)

    return idempotent(request, member, idempotency_key, body, run, tool_created)


@router.get("/relationships/{relationship_id}/tools/{kind}/{tool_id}", response_model=ToolOut,
            summary="One tool: its current content and every version with author and time")
def get_tool(relationship_id: Id, kind: ToolKindPath, tool_id: Id, request: Request,
             member: Member = Depends(current_member)) -> JSONResponse:
    return respond(with_etag(workspace(request).get_tool(member.id, relationship_id, ToolKind(kind), tool_id)))


@router.put("/relationships/{relationship_id}/tools/{kind}/{tool_id}", response_model=ToolOut,
         responses={428: {"description": "No `If-Match`: an amendment names the version it is based on"}},
            summary="Amend a tool (If-Match with its ETag; 412 when someone saved in between)")
def amend_tool(relationship_id: Id, kind: ToolKindPath, tool_id: Id, body: dict[Line, JsonText], request: Request,
               member: Member = Depends(current_member), if_match: IfMatch = None) -> JSONResponse:
    content = _tool_content(kind, body)
    view = workspace(request).amend_tool(member.id, relationship_id, ToolKind(kind), tool_id, if_match, content)
    return respond(with_etag(view))


class LearningOutcomesIn(Closed):
    outcomes: Text = Field(max_length=MAX_TOOL_TEXT_CHARS, description="What I learned (private to me)")


@router.get("/relationships/{relationship_id}/learning-outcomes", response_model=LearningOutcomesOut,
            summary="What I noted I learned in this relationship (private; in my CPD record)")
def get_learning_outcomes(relationship_id: Id, request: Request,
                          member: Member = Depends(current_member)) -> dict[str, Any]:
    return workspace(request).get_learning_outcomes(member.id, relationship_id)


@router.put("/relationships/{relationship_id}/learning-outcomes", response_model=LearningOutcomesOut,
            summary="Note what I learned (private to me; also after completion)")
def put_learning_outcomes(relationship_id: Id, body: LearningOutcomesIn, request: Request,
                          member: Member = Depends(current_member)) -> dict[str, Any]:
    return workspace(request).put_learning_outcomes(member.id, relationship_id, body.outcomes)


# --- messages -------------------------------------------------------------------------------


@router.get("/relationships/{relationship_id}/messages", response_model=MessagePageOut,
            summary="Messages between the two of you, newest first; those to you are marked read")
def list_messages(relationship_id: Id, request: Request, member: Member = Depends(current_member),
                  cursor: PageCursor = None, limit: PageLimit = 20, *, response: Response) -> dict[str, Any]:
    query = fingerprint(relationship_id)
    before = open_after(request, member.id, cursor, kind="messages", query=query)
    view = workspace(request).list_messages(member.id, relationship_id, before, limit)
    return seal_after(request, member.id, view, kind="messages", query=query, response=response)


@router.post("/relationships/{relationship_id}/messages", status_code=201, response_model=MessageOut,
             summary="Send a message; your partner is emailed (one email per burst)")
def post_message(relationship_id: Id, body: MessageIn, request: Request, member: Member = Depends(current_member),
                 idempotency_key: IdempotencyKey = None) -> JSONResponse:
    def run(receipt: Receipt | None) -> dict[str, Any]:
        return workspace(request).post_message(member.id, relationship_id, body.body, receipt)

    return idempotent(request, member, idempotency_key, body.model_dump(), run, message_sent(relationship_id))


@router.post("/relationships/{relationship_id}/nudge", status_code=202, response_model=NudgeOut,
             summary="Nudge a partner who has been quiet for 2 weeks (at most weekly)")
def nudge_partner(relationship_id: Id, request: Request, member: Member = Depends(current_member),
                  idempotency_key: IdempotencyKey = None) -> JSONResponse:
    def run(receipt: Receipt | None) -> dict[str, Any]:
        return workspace(request).nudge_partner(member.id, relationship_id, receipt)

    return idempotent(request, member, idempotency_key, {}, run, partner_nudged)
