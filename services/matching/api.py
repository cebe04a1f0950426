"""Thin HTTP layer of the matching service."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt
from starlette.concurrency import run_in_threadpool

from connect.auth import Member, current_member
from connect.cursors import CursorCodec, InvalidCursor
from connect.errors import Forbidden
from connect.text import Id, Json, Line, Text
from services.matching.domain.profiles import Location, MenteeProfile, MentorProfile
from services.matching.domain.search import Cursor, SearchQuery
from services.matching.services import MatchingService

router = APIRouter(prefix="/v1", tags=["members"])

#: A controlled id or a free tag (interests): one line, at most 100 characters.
Tag = Annotated[Line, Field(min_length=1, max_length=100)]
Tags = Field(default_factory=list, max_length=20)


async def service(request: Request) -> MatchingService:
    # async on purpose: a plain lookup need not cost a hop through the thread pool.
    return request.app.state.container.service("matching")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MeOut(BaseModel):
    member_id: str
    name: str
    email: str
    roles: list[str]


class LocationIn(_Strict):
    country: Line = Field(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2 code, e.g. GB")
    region: Optional[Line] = Field(None, max_length=100, description="A `regions` id from the taxonomy")
    city: Optional[Line] = Field(None, max_length=100)


class MentorProfileIn(_Strict):
    headline: Line = Field(min_length=1, max_length=200)
    bio: Text = Field("", max_length=5000)
    expertise: list[Tag] = Field(min_length=1, max_length=20)
    sectors: list[Tag] = Tags
    career_stage: Optional[Tag] = None
    years_experience: Optional[StrictInt] = Field(None, ge=0, le=70)
    qualifications: list[Tag] = Tags
    languages: list[Tag] = Tags
    interaction_modes: list[Tag] = Field(default_factory=list, max_length=3)
    location: Optional[LocationIn] = None
    employer: Optional[Line] = Field(None, max_length=200)
    interests: list[Tag] = Tags


class MenteeProfileIn(_Strict):
    goals: Text = Field("", max_length=5000)
    areas_sought: list[Tag] = Tags
    career_stage: Optional[Tag] = None
    sectors: list[Tag] = Tags
    location: Optional[LocationIn] = None
    languages: list[Tag] = Tags
    interaction_modes: list[Tag] = Field(default_factory=list, max_length=3)
    interests: list[Tag] = Tags


class AvailabilityIn(_Strict):
    available: StrictBool


class PageIn(_Strict):
    size: StrictInt = 20
    cursor: Optional[Line] = Field(None, description="`next_cursor` of the previous page, for the same search")


class SearchIn(_Strict):
    text: Optional[Text] = Field(None, description="What I need, in my own words (at most 500 characters); "
                                                   "without it, the goals of my mentee profile are used")
    criteria: dict[Line, Json] = Field(default_factory=dict)
    weights: dict[Line, Json] = Field(default_factory=dict)
    filters: dict[Line, Json] = Field(default_factory=dict,
                                      description="Hard filters: same fields as criteria; must hold, add no score")
    page: PageIn = Field(default_factory=PageIn)


class MatchedOut(BaseModel):
    criterion: str
    values: list[Any]
    weight: float


class ConnectionOut(BaseModel):
    kind: str
    values: list[str]


class RelationshipFlag(BaseModel):
    relationship_id: str
    status: str


class MatchedTextOut(BaseModel):
    sentence: str = Field(description="The passage of the mentor's profile (headline, expertise line or a "
                                      "sentence of the bio) closest in meaning to the need")
    similarity: float = Field(description="Cosine similarity of that passage with the need (-1..1)")


class SearchResultOut(BaseModel):
    mentor: dict[str, Any]
    score: float
    match_percent: int
    matched: list[MatchedOut]
    matched_text: Optional[MatchedTextOut] = Field(
        None, description="Why the text matched; null without a need or when no passage is near it")
    connections: list[ConnectionOut]
    relationship: Optional[RelationshipFlag] = Field(
        None, description="Set when the searcher already has a pending or accepted relationship with this mentor")


class SearchOut(BaseModel):
    results: list[SearchResultOut]
    total: int
    next_cursor: Optional[str]
    need: Optional[str] = Field(None, description="What meaning was read from: `text`, `mentee_goals` (no text "
                                                  "given: the goals of my mentee profile) or null (criteria only)")


class SuggestionOut(BaseModel):
    member_id: str
    name: str
    headline: str


def _location(model: Optional[LocationIn]) -> Location:
    if model is None:
        return Location()
    return Location(country=model.country.upper(), region=model.region, city=model.city)


@router.get("/members/me", response_model=MeOut, summary="Who the token says I am")
def read_me(member: Member = Depends(current_member)) -> MeOut:
    return MeOut(member_id=member.id, name=member.name, email=member.email, roles=sorted(member.roles))


@router.get("/taxonomy", tags=["matching"], summary="Allowed values of every controlled field")
def read_taxonomy(_member: Member = Depends(current_member)) -> dict[str, list[dict[str, str]]]:
    return MatchingService.taxonomy()


@router.put("/members/me/mentor-profile", tags=["matching"], summary="Create or replace my mentor profile")
def put_mentor_profile(body: MentorProfileIn, member: Member = Depends(current_member),
                       matching: MatchingService = Depends(service)) -> dict[str, Any]:
    profile = MentorProfile(**{**body.model_dump(exclude={"location"}), "location": _location(body.location)})
    return matching.put_mentor_profile(member.id, profile)


@router.get("/members/me/mentor-profile", tags=["matching"], summary="My mentor profile, with availability")
def get_mentor_profile(member: Member = Depends(current_member),
                       matching: MatchingService = Depends(service)) -> dict[str, Any]:
    return matching.get_mentor_profile(member.id)


@router.put("/members/me/mentor-profile/availability", tags=["matching"],
            summary="Switch my availability to mentees off or on")
def put_availability(body: AvailabilityIn, member: Member = Depends(current_member),
                     matching: MatchingService = Depends(service)) -> dict[str, Any]:
    return matching.set_availability(member.id, body.available)


@router.put("/members/me/mentee-profile", tags=["matching"], summary="Create or replace my mentee profile")
def put_mentee_profile(body: MenteeProfileIn, member: Member = Depends(current_member),
                       matching: MatchingService = Depends(service)) -> dict[str, Any]:
    profile = MenteeProfile(**{**body.model_dump(exclude={"location"}), "location": _location(body.location)})
    return matching.put_mentee_profile(member.id, profile)


@router.get("/members/me/mentee-profile", tags=["matching"], summary="My mentee profile")
def get_mentee_profile(member: Member = Depends(current_member),
                       matching: MatchingService = Depends(service)) -> dict[str, Any]:
    return matching.get_mentee_profile(member.id)


def _continued(cursors: CursorCodec, member_id: str, query: SearchQuery, cursor: str | None) -> SearchQuery:
    """The search from where the member's cursor left off, checked before any engine runs."""
    if cursor is None:
        return query
    values = cursors.open(cursor, kind="search", member_id=member_id, query=query.fingerprint, path="page.cursor")
    try:
        return query.continued(Cursor.from_values(values))
    except (ValueError, TypeError) as exc:
        raise InvalidCursor("page.cursor", str(exc)) from exc


@router.post("/mentors/search", response_model=SearchOut, tags=["matching"],
             summary="Ranked mentor search: more criteria give a more accurate order")
async def search_mentors(body: SearchIn, request: Request, member: Member = Depends(current_member),
                         matching: MatchingService = Depends(service)) -> Response:
    cursors: CursorCodec = request.app.state.container.cursors

    def search() -> tuple[SearchQuery, dict[str, Any]]:
        # The need (the text's meaning, or the searcher's goals) is part of the query, so of the
        # fingerprint a cursor is sealed with: a cursor continues only the search it came from.
        query = matching.search_query(member.id, text=body.text, criteria=body.criteria, weights=body.weights,
                                      filters=body.filters, size=body.page.size)
        query = _continued(cursors, member.id, query, body.page.cursor)
        return query, matching.run_search(query, member.id)

    if matching.searches_in_process:
        # Only computation over local files, holding the GIL: the hop through the thread
        # pool bought no concurrency and cost a fifth of the request's CPU. A search that
        # waits on OpenSearch or PostgreSQL must not hold up the event loop, so it hops.
        query, result = search()
    else:
        query, result = await run_in_threadpool(search)
    after: Cursor | None = result["next_cursor"]
    result["next_cursor"] = None if after is None else cursors.seal(
        after.values(), kind="search", member_id=member.id, query=query.fingerprint)
    # The result is plain JSON data already; re-validating it through SearchOut cost
    # more than the search itself (SearchOut still documents the shape), and orjson
    # writes it in a tenth of the time the standard library takes.
    return Response(orjson.dumps(result), media_type="application/json")


@router.get("/mentors/suggestions", response_model=list[SuggestionOut], tags=["matching"],
            summary="Available mentors matching these expertise areas (used for expired proposals)")
def suggest_mentors(areas: list[Tag] = Query(default_factory=list, max_length=20),
                    exclude: list[Id] = Query(default_factory=list, max_length=100),
                    limit: int = Query(3, ge=1, le=20),
                    _member: Member = Depends(current_member),
                    matching: MatchingService = Depends(service)) -> list[dict[str, str]]:
    return matching.suggest_mentors(areas, exclude, limit)


@router.get("/members/{member_id}/connection-facts", tags=["matching"],
            summary="The comparable fields of a member's profiles (for 'what you share'; service tokens)")
def get_connection_facts(member_id: Id, member: Member = Depends(current_member),
                         matching: MatchingService = Depends(service)) -> dict[str, Any]:
    # The relationships service asks with its service credential; a member may ask about themself.
    if member.id != member_id and "service" not in member.roles:
        raise Forbidden("Only the member themself or a Connect service may read these facts.", code="service-only")
    return {"member_id": member_id, "profiles": matching.connection_facts(member_id)}


@router.get("/members/{member_id}/shared-with/{other_id}", tags=["matching"],
            summary="What two members share, for the first conversation's ice-breakers (service tokens)")
def get_shared_connections(member_id: Id, other_id: Id, member: Member = Depends(current_member),
                           matching: MatchingService = Depends(service)) -> dict[str, Any]:
    # Comparing with anyone would tell a member about anyone: the relationships service asks.
    if "service" not in member.roles:
        raise Forbidden("Only a Connect service may compare two members.", code="service-only")
    return {"member_id": member_id, "other_id": other_id,
            "connections": matching.compare_members(member_id, other_id)}


@router.get("/mentors/{member_id}", tags=["matching"], summary="A mentor's profile page (404 when inactive)")
def get_mentor(member_id: Id, _member: Member = Depends(current_member),
               matching: MatchingService = Depends(service)) -> dict[str, Any]:
    return matching.public_mentor(member_id)

