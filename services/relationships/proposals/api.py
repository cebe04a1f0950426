"""Routes of the proposals room: parse, call the use case, answer.

Each route owns its status code and headers; each POST's presenter is used for
the first answer and for the one stored with its `Idempotency-Key` (see `http.py`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from connect.auth import Member, current_member
from connect.errors import Invalid
from connect.text import Id, Line, Text
from connect.uow import Receipt
from services.relationships.adapters.idempotency import Answer
from services.relationships.http import (IdempotencyKey, IfMatch, PageCursor, idempotent, listing_query, open_after,
                                         relationships, respond, seal_after)
from services.relationships.proposals.domain import (MAX_AREAS, MAX_DURATION_MONTHS, MAX_GOALS_CHARS,
                                                     MAX_MESSAGE_CHARS, MAX_REASON_CHARS, MIN_DURATION_MONTHS, Action,
                                                     ProposalContent, Role, Status)
from services.relationships.proposals.services import TRANSITIONS, ProposalsService

router = APIRouter(prefix="/v1", tags=["relationships"])

#: One area of mentoring (matching's expertise ids, e.g. "career_planning"); free text is kept as given.
Area = Annotated[Line, Field(min_length=1, max_length=100)]


class ProposalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mentor_id: Id
    message: Text = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    areas: list[Area] = Field(default_factory=list, max_length=MAX_AREAS)
    goals: Text = Field("", max_length=MAX_GOALS_CHARS)
    interaction_modes: list[Literal["in_person", "video", "email"]] = Field(default_factory=list, max_length=3)
    duration_months: StrictInt = Field(ge=MIN_DURATION_MONTHS, le=MAX_DURATION_MONTHS)


class ProposalPatch(BaseModel):
    """The fields to change; the others stay as they are."""

    model_config = ConfigDict(extra="forbid")

    message: Text | None = Field(None, min_length=1, max_length=MAX_MESSAGE_CHARS)
    areas: list[Area] | None = Field(None, max_length=MAX_AREAS)
    goals: Text | None = Field(None, max_length=MAX_GOALS_CHARS)
    interaction_modes: list[Literal["in_person", "video", "email"]] | None = Field(None, max_length=3)
    duration_months: StrictInt | None = Field(None, ge=MIN_DURATION_MONTHS, le=MAX_DURATION_MONTHS)


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text | None = Field(None, max_length=MAX_REASON_CHARS)
    expected_status: Status | None = Field(
        None, description="Only move if the relationship is still in this status (else 409 with the current one).")


def proposals(request: Request) -> ProposalsService:
    return relationships(request).proposals


def with_etag(view: dict[str, Any]) -> Answer:
    """A relationship's details as they stand: 200 with the proposal's ETag."""
    return Answer(200, view, {"ETag": view["etag"]})


def proposal_sent(view: dict[str, Any]) -> Answer:
    return Answer(201, view, {"ETag": view["etag"], "Location": f"/v1/relationships/{view['id']}"})


@router.post("/proposals", status_code=201, summary="Send a proposal to a mentor (honours Idempotency-Key)")
def create_proposal(body: ProposalIn, request: Request, member: Member = Depends(current_member),
                    idempotency_key: IdempotencyKey = None) -> JSONResponse:
    content = ProposalContent(message=body.message, areas=tuple(body.areas), goals=body.goals,
                              interaction_modes=tuple(body.interaction_modes), duration_months=body.duration_months)

    def run(receipt: Receipt | None) -> dict[str, Any]:
        return proposals(request).propose(member, body.mentor_id, content, receipt)

    return idempotent(request, member, idempotency_key, body.model_dump(mode="json"), run, proposal_sent)


@router.get("/relationships", summary="My relationships, as mentor and as mentee, newest change first")
def list_relationships(request: Request, member: Member = Depends(current_member),
                       role: Literal["mentor", "mentee"] | None = None,
                       status: list[Line] = Query(default=[], description="Repeat or comma-separate."),
                       cursor: PageCursor = None, limit: int = Query(20, ge=1, le=100)) -> dict[str, Any]:
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
    return seal_after(request, member.id, view, kind="relationships", query=query)


@router.get("/relationships/{relationship_id}", summary="Details: proposal with edit history, status history")
def relationship_details(relationship_id: Id, request: Request,
                         member: Member = Depends(current_member)) -> JSONResponse:
    return respond(with_etag(proposals(request).details(member.id, relationship_id)))


@router.patch("/relationships/{relationship_id}/proposal",
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
                         summary=f"{action.value.capitalize()} (optional reason; 409 with the current status "
                                 "when not allowed now; honours Idempotency-Key)")


for _action in TRANSITIONS:
    _transition_route(_action)
