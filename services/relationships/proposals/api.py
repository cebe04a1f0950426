"""Routes of the proposals room: parse, call the use case, answer.

Each route owns its status code and headers; each POST's presenter is used for
the first answer and for the one stored with its `Idempotency-Key` (see `http.py`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import Field, StrictInt

from connect.models import Closed
from connect.paging import Page
from connect.auth import Member, current_member
from connect.errors import Invalid
from connect.text import Id, Line, Text
from connect.uow import Receipt
from services.relationships.adapters.idempotency import Answer
from services.relationships.http import (IdempotencyKey, IfMatch, PageCursor, PageLimit, idempotent, listing_query,
                                         open_after, relationships, respond, seal_after)
from services.relationships.proposals.domain import (MAX_AREAS, MAX_DURATION_MONTHS, MAX_GOALS_CHARS,
                                                     MAX_MESSAGE_CHARS, MAX_REASON_CHARS, MIN_DURATION_MONTHS, Action,
                                                     ProposalContent, Role, Status)
from services.relationships.proposals.services import TRANSITIONS, ProposalsService

router = APIRouter(prefix="/v1", tags=["relationships"])

#: One area of mentoring (matching's expertise ids, e.g. "career_planning"); free text is kept as given.
Area = Annotated[Line, Field(min_length=1, max_length=100)]


class ProposalIn(Closed):
    mentor_id: Id = Field(description="The mentor's membership number (from search or their page)")
    message: Text = Field(min_length=1, max_length=MAX_MESSAGE_CHARS, description="My message to the mentor")
    areas: list[Area] = Field(default_factory=list, max_length=MAX_AREAS,
                              description="Areas of mentoring I want (expertise ids)")
    goals: Text = Field("", max_length=MAX_GOALS_CHARS, description="What I hope to achieve")
    interaction_modes: list[Literal["in_person", "video", "email"]] = Field(
        default_factory=list, max_length=3, description="How I would like to meet")
    duration_months: StrictInt = Field(ge=MIN_DURATION_MONTHS, le=MAX_DURATION_MONTHS,
                                       description="Planned length in months (1 to 12)")


class ProposalPatch(Closed):
    """The fields to change; the others stay as they are."""

    message: Text | None = Field(None, min_length=1, max_length=MAX_MESSAGE_CHARS, description="The new message")
    areas: list[Area] | None = Field(None, max_length=MAX_AREAS, description="The new areas (expertise ids)")
    goals: Text | None = Field(None, max_length=MAX_GOALS_CHARS, description="The new goals")
    interaction_modes: list[Literal["in_person", "video", "email"]] | None = Field(
        None, max_length=3, description="The new ways to meet")
    duration_months: StrictInt | None = Field(None, ge=MIN_DURATION_MONTHS, le=MAX_DURATION_MONTHS,
                                              description="The new planned length (1 to 12 months)")


class TransitionIn(Closed):
    reason: Text | None = Field(None, max_length=MAX_REASON_CHARS, description="Why, for the other party")
    expected_status: Status | None = Field(
        None, description="Only move if the relationship is still in this status (else 409 with the current one).")


#: Times are RFC 3339 in UTC, e.g. 2026-12-01T09:00:00Z.
Time = Field(description="RFC 3339, UTC")
MaybeTime = Field(description="RFC 3339, UTC; null when it has not happened")


class PersonOut(Closed):
    member_id: str = Field(description="Membership number")
    name: str = Field(description="Name from the membership system")


class AlternativeOut(Closed):
    member_id: str = Field(description="The suggested mentor's membership number")
    name: str = Field(description="The mentor's name")
    headline: str = Field(description="The mentor's headline")
    why: str = Field(description="Why Connect suggested this mentor, in words")
    profile: str = Field(description="The mentor's public profile (GET)")
    suggested_at: str = Field(description="RFC 3339, UTC: when the proposal expired and these were suggested")


class RelationshipItemOut(Closed):
    id: str = Field(description="The relationship's id")
    status: Status = Field(description="pending, accepted, rejected, withdrawn, expired or completed")
    my_role: Literal["mentor", "mentee"] = Field(description="My side of it: mentor or mentee")
    counterpart: PersonOut = Field(description="The other party")
    actions: list[Action] = Field(description="What I may do now (e.g. accept, reject, withdraw, reopen, edit, "
                                              "complete)")
    created_at: str = Time
    updated_at: str = Field(description="RFC 3339, UTC: the last status change or proposal edit")
    proposal_summary: str = Field(description="The first line of the proposal's message (at most 140 "
                                              "characters, cut at a word with an ellipsis)")
    last_activity_at: str = Field(description="RFC 3339, UTC: the latest of a status change, a proposal edit, "
                                              "a message, a meeting change or a tool version by either party")


class RelationshipPageOut(Page[RelationshipItemOut]):
    """Newest change first."""


class ProposalVersionOut(Closed):
    version: int = Field(description="1 for the proposal as sent, +1 for each edit")
    message: str = Field(description="The mentee's message to the mentor")
    areas: list[str] = Field(description="Areas of mentoring (expertise ids)")
    goals: str = Field(description="What the mentee hopes to achieve")
    interaction_modes: list[str] = Field(description="in_person, video, email")
    duration_months: int = Field(description="Planned length, 1 to 12 months")
    author_id: str = Field(description="Who wrote this version (the mentee)")
    created_at: str = Time


class StatusChangeOut(Closed):
    action: str = Field(description="propose, accept, reject, withdraw, reopen, complete, expire or delete_account")
    from_status: Status | None = Field(description="null for the proposal itself")
    to_status: Status = Field(description="The status it led to")
    actor: PersonOut | None = Field(description="Who did it; null for the system (expiry)")
    actor_role: str = Field(description="mentor, mentee or system")
    reason: str | None = Field(description="The reason given, if any")
    at: str = Time


class ReminderOut(Closed):
    cycle: int = Field(description="1 for the proposal as sent, +1 for each reopening")
    day: int = Field(description="3, 7 or 15 days after the cycle started")
    sent: bool = Field(description="Whether the mentor was emailed (a late sweep sends only the latest)")
    at: str = Time


class RelationshipOut(Closed):
    """A relationship's details; the response's `ETag` header carries `etag` too."""

    id: str = Field(description="The relationship's id")
    status: Status = Field(description="pending, accepted, rejected, withdrawn, expired or completed")
    my_role: Literal["mentor", "mentee"] = Field(description="My side of it")
    mentor: PersonOut = Field(description="The mentor")
    mentee: PersonOut = Field(description="The mentee")
    counterpart: PersonOut = Field(description="The other party")
    actions: list[Action] = Field(description="What I may do now")
    created_at: str = Time
    updated_at: str = Time
    accepted_at: str | None = MaybeTime
    duration_months: int = Field(description="Planned length in months (the current proposal's)")
    planned_end: str | None = Field(description="RFC 3339, UTC: accepted_at + duration; null until accepted")
    expires_at: str | None = Field(description="RFC 3339, UTC: when a pending proposal expires unanswered")
    withdrawn_by: str | None = Field(description="Membership number of the party who withdrew, if any")
    proposal: ProposalVersionOut = Field(description="The proposal as it stands")
    proposal_history: list[ProposalVersionOut] = Field(description="Every version, oldest first")
    status_history: list[StatusChangeOut] = Field(description="Every move, oldest first")
    reminders: list[ReminderOut] = Field(description="Reminders due to or sent to the mentor")
    end_notice_at: str | None = Field(description="RFC 3339, UTC: when both parties were told the planned end "
                                                  "is 14 days away; null before that")
    suggested_alternatives: list[AlternativeOut] = Field(
        description="The mentee's view of an expired proposal: up to three mentors Connect suggested instead, "
                    "and why; empty otherwise (and always for the mentor)")
    etag: str = Field(description="The proposal's entity tag, for `If-Match` on an edit")


def proposals(request: Request) -> ProposalsService:
    return relationships(request).proposals


def with_etag(view: dict[str, Any]) -> Answer:
    """A relationship's details as they stand: 200 with the proposal's ETag."""
    return Answer(200, view, {"ETag": view["etag"]})


def proposal_sent(view: dict[str, Any]) -> Answer:
    return Answer(201, view, {"ETag": view["etag"], "Location": f"/v1/relationships/{view['id']}"})


@router.post("/proposals", status_code=201, response_model=RelationshipOut,
             summary="Send a proposal to a mentor (honours Idempotency-Key)",
             responses={409: {"description": "The mentor is unavailable, inactive or not a mentor "
                                             "(`reason`), or you already have an open relationship with them "
                                             "(`relationship_id`), or the `Idempotency-Key` was used for "
                                             "another request"}})
def create_proposal(body: ProposalIn, request: Request, member: Member = Depends(current_member),
                    idempotency_key: IdempotencyKey = None) -> JSONResponse:
    content = ProposalContent(message=body.message, areas=tuple(body.areas), goals=body.goals,
                              interaction_modes=tuple(body.interaction_modes), duration_months=body.duration_months)

    def run(receipt: Receipt | None) -> dict[str, Any]:
        return proposals(request).propose(member, body.mentor_id, content, receipt)

    return idempotent(request, member, idempotency_key, body.model_dump(mode="json"), run, proposal_sent)


@router.get("/relationships", response_model=RelationshipPageOut, summary="My relationships, as mentor and as mentee, newest change first")
def list_relationships(request: Request, member: Member = Depends(current_member),
                       role: Literal["mentor", "mentee"] | None = None,
                       status: list[Line] = Query(default=[], description="Repeat or comma-separate."),
                       cursor: PageCursor = None, limit: PageLimit = 20, *, response: Response) -> dict[str, Any]:
    statuses = []
    for value in (part.strip() for item in status for part in item.split(",")):
        if not value:
            continue
        try:
            statuses.append(Status(value))
        except ValueError:
            raise Invalid({"query.status": f"unknown status {value!r}; one of "
                                           + ", ".join(s.value for s in Status)}) from None
    query = listing_query(role, statuses)
    after = open_after(request, member.id, cursor, kind="relationships", query=query)
    view = proposals(request).list_relationships(member.id, Role(role) if role else None, statuses, after, limit)
    return seal_after(request, member.id, view, kind="relationships", query=query, response=response)


@router.get("/relationships/{relationship_id}", response_model=RelationshipOut, summary="Details: proposal with edit history, status history")
def relationship_details(relationship_id: Id, request: Request,
                         member: Member = Depends(current_member)) -> JSONResponse:
    return respond(with_etag(proposals(request).details(member.id, relationship_id)))


@router.patch("/relationships/{relationship_id}/proposal", response_model=RelationshipOut,
              responses={428: {"description": "No `If-Match`: an edit names the version it is based on"}},
              summary="The mentee edits a pending proposal (If-Match with the ETag required)")
def edit_proposal(relationship_id: Id, body: ProposalPatch, request: Request,
                  member: Member = Depends(current_member), if_match: IfMatch = None) -> JSONResponse:
    changes = body.model_dump(exclude_unset=True)
    nulls = [name for name, value in changes.items() if value is None]
    if nulls:
        raise Invalid({name: "must not be null" for name in nulls})
    return respond(with_etag(proposals(request).edit_proposal(member.id, relationship_id, if_match, changes)))


def _transition_route(action: Action) -> None:
    def move(relationship_id: Id, request: Request, body: TransitionIn | None = None,
             member: Member = Depends(current_member), idempotency_key: IdempotencyKey = None) -> JSONResponse:
        given = body or TransitionIn()

        def run(receipt: Receipt | None) -> dict[str, Any]:
            return proposals(request).transition(member.id, relationship_id, action, given.reason,
                                                 given.expected_status, receipt)

        return idempotent(request, member, idempotency_key, given.model_dump(mode="json"), run, with_etag)

    move.__name__ = f"{action.value}_relationship"
    router.add_api_route(f"/relationships/{{relationship_id}}/{action.value}", move, methods=["POST"],
                         response_model=RelationshipOut,
                         summary=f"{action.value.capitalize()} (optional reason; 409 with the current status "
                                 "when not allowed now; honours Idempotency-Key)")


for _action in TRANSITIONS:
    _transition_route(_action)
