"""Thin HTTP layer of the relationships service: parse, call the service, answer.

Every POST honours `Idempotency-Key` through `_idempotent`: the first request's
response (success or client error) is stored with the change it made and
replayed for the same key and body.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Callable, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from connect.auth import Member, current_member
from connect.clock import utc
from connect.cursors import CursorCodec, InvalidCursor, fingerprint
from connect.problems import Problem, field_error, validation_problem
from connect.text import Id, Line, Text
from services.relationships.adapters.idempotency import request_hash
from services.relationships.domain.model import (MAX_AREAS, MAX_DURATION_MONTHS, MAX_GOALS_CHARS,
                                                 MAX_MESSAGE_CHARS, MAX_REASON_CHARS, MIN_DURATION_MONTHS, Action,
                                                 ProposalContent, Role, Status)
from services.relationships.services import RelationshipsService, Responder

router = APIRouter(prefix="/v1", tags=["relationships"])

#: One area of mentoring (matching's expertise ids, e.g. "career_planning"); free text is kept as given.
Area = Annotated[Line, Field(min_length=1, max_length=100)]
#: An `Idempotency-Key` header: one line, at most 200 characters (the store's limit).
IdempotencyKey = Annotated[Line | None, Header(max_length=200)]
#: An `If-Match` header (entity tags).
IfMatch = Annotated[Line | None, Header(max_length=1000)]
#: The `next_cursor` of the previous page of the same listing.
PageCursor = Annotated[Line | None, Query(description="`next_cursor` of the previous page")]


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


def service(request: Request) -> RelationshipsService:
    return request.app.state.container.service("relationships")


def open_after(request: Request, member_id: str, cursor: str | None, *, kind: str,
               query: str) -> tuple[datetime, str] | None:
    """Where a keyset listing continues, from a cursor `seal_after` made for this member and query."""
    if cursor is None:
        return None
    codec: CursorCodec = request.app.state.container.cursors
    values = codec.open(cursor, kind=kind, member_id=member_id, query=query, path="query.cursor")
    at, row_id = values.get("at"), values.get("id")
    try:
        if not isinstance(at, str) or not isinstance(row_id, str) or not 0 < len(row_id) <= 64:
            raise ValueError("not a keyset position")
        return utc(datetime.fromisoformat(at)), row_id
    except ValueError as exc:
        raise InvalidCursor("query.cursor", "cannot be read") from exc


def seal_after(request: Request, member_id: str, view: dict[str, Any], *, kind: str, query: str) -> dict[str, Any]:
    """`view` with its `next_cursor` (a (time, id) position or None) sealed for this member and query."""
    after: tuple[datetime, str] | None = view["next_cursor"]
    codec: CursorCodec = request.app.state.container.cursors
    sealed = None if after is None else codec.seal({"at": utc(after[0]).isoformat(), "id": after[1]}, kind=kind,
                                                   member_id=member_id, query=query)
    return {**view, "next_cursor": sealed}


def listing_query(role: str | None, statuses: list[Status]) -> str:
    """What a page of "my relationships" belongs to: a cursor continues only the same filters."""
    return fingerprint(role, sorted(s.value for s in statuses))


def _replay(stored: Any) -> JSONResponse:
    headers = {k: v for k, v in stored.headers.items() if k != "x-stored-problem"}
    if stored.is_problem:
        body = stored.body
        raise Problem(stored.status, body["detail"], type_=body.get("type"), title=body.get("title"),
                      headers={**headers, "Idempotent-Replayed": "true"}, **body.get("extensions", {}))
    return JSONResponse(stored.body, status_code=stored.status, headers={**headers, "Idempotent-Replayed": "true"})


def _idempotent(request: Request, member: Member, key: str | None, body: Any,
                run: Callable[[Responder | None], tuple[int, dict[str, Any], dict[str, str]]]) -> JSONResponse:
    if key is None:
        status, view, headers = run(None)
        return JSONResponse(view, status_code=status, headers=headers)
    store = service(request).idempotency
    stored = store.reserve(member.id, key, request_hash(request.method, request.url.path, body))
    if stored is not None:
        return _replay(stored)

    def respond(session: Any, status: int, view: dict[str, Any], headers: dict[str, str]) -> None:
        store.complete(session, member.id, key, status, view, headers)

    try:
        status, view, headers = run(respond)
    except Problem as problem:
        if problem.status < 500:
            store.complete_with_problem(member.id, key, problem)
        else:
            store.release(member.id, key)
        raise
    except BaseException:
        store.release(member.id, key)
        raise
    return JSONResponse(view, status_code=status, headers=headers)


@router.post("/proposals", status_code=201, summary="Send a proposal to a mentor (honours Idempotency-Key)")
def create_proposal(body: ProposalIn, request: Request, member: Member = Depends(current_member),
                    idempotency_key: IdempotencyKey = None) -> JSONResponse:
    content = ProposalContent(message=body.message, areas=tuple(body.areas), goals=body.goals,
                              interaction_modes=tuple(body.interaction_modes), duration_months=body.duration_months)

    def run(respond: Responder | None) -> tuple[int, dict[str, Any], dict[str, str]]:
        view = service(request).propose(member, body.mentor_id, content, respond)
        return 201, view, {"ETag": view["etag"], "Location": f"/v1/relationships/{view['id']}"}

    return _idempotent(request, member, idempotency_key, body.model_dump(mode="json"), run)


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
            raise validation_problem([field_error("query.status", f"unknown status {value!r}; one of "
                                                  + ", ".join(s.value for s in Status))]) from None
    query = listing_query(role, statuses)
    after = open_after(request, member.id, cursor, kind="relationships", query=query)
    view = service(request).list_relationships(member.id, Role(role) if role else None, statuses, after, limit)
    return seal_after(request, member.id, view, kind="relationships", query=query)


@router.get("/relationships/{relationship_id}", summary="Details: proposal with edit history, status history")
def relationship_details(relationship_id: Id, request: Request,
                         member: Member = Depends(current_member)) -> JSONResponse:
    view = service(request).details(member.id, relationship_id)
    return JSONResponse(view, headers={"ETag": view["etag"]})


@router.patch("/relationships/{relationship_id}/proposal",
              summary="The mentee edits a pending proposal (If-Match with the ETag required)")
def edit_proposal(relationship_id: Id, body: ProposalPatch, request: Request,
                  member: Member = Depends(current_member), if_match: IfMatch = None) -> JSONResponse:
    changes = body.model_dump(exclude_unset=True)
    nulls = [name for name, value in changes.items() if value is None]
    if nulls:
        raise validation_problem([field_error(name, "must not be null") for name in nulls])
    view = service(request).edit_proposal(member.id, relationship_id, if_match, changes)
    return JSONResponse(view, headers={"ETag": view["etag"]})


def _transition_route(action: Action) -> None:
    def move(relationship_id: Id, request: Request, body: TransitionIn | None = None,
             member: Member = Depends(current_member), idempotency_key: IdempotencyKey = None) -> JSONResponse:
        given = body or TransitionIn()

        def run(respond: Responder | None) -> tuple[int, dict[str, Any], dict[str, str]]:
            view = service(request).transition(member.id, relationship_id, action, given.reason,
                                               given.expected_status, respond)
            return 200, view, {"ETag": view["etag"]}

        return _idempotent(request, member, idempotency_key, given.model_dump(mode="json"), run)

    move.__name__ = f"{action.value}_relationship"
    router.add_api_route(f"/relationships/{{relationship_id}}/{action.value}", move, methods=["POST"],
                         summary=f"{action.value.capitalize()} (optional reason; 409 with the current status "
                                 "when not allowed now; honours Idempotency-Key)")


for _action in (Action.ACCEPT, Action.REJECT, Action.WITHDRAW, Action.REOPEN, Action.COMPLETE):
    _transition_route(_action)
