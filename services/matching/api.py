"""Thin HTTP layer of the matching service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Optional

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StrictBool, StrictInt
from starlette.concurrency import run_in_threadpool

from connect.models import Closed
from connect.auth import Member, current_member
from connect.cursors import CursorCodec, InvalidCursor
from connect.errors import Forbidden
from connect.etags import IfMatch, IfNoneMatch, not_modified
from connect.text import Id, Json, Line, Text
from services.matching.domain.profiles import Location, MenteeProfile, MentorProfile
from services.matching.domain.search import Cursor, SearchQuery
from services.matching.services import MatchingService

router = APIRouter(prefix="/v1", tags=["members"])

#: A controlled id or a free tag (interests): one line, at most 100 characters.
Tag = Annotated[Line, Field(min_length=1, max_length=100)]


async def service(request: Request) -> MatchingService:
    # async on purpose: a plain lookup need not cost a hop through the thread pool.
    return request.app.state.container.service("matching")


class MeOut(Closed):
    member_id: str = Field(description="Membership number (the token's `sub`)")
    name: str = Field(description="Name from the membership system (the token's claim)")
    email: str = Field(description="Email from the membership system (the token's claim)")
    roles: list[str] = Field(description="Extra roles, e.g. `support` for the customer service team")
    profiles: list[str] = Field(description="The profiles the member holds: `mentor`, `mentee`, both or none "
                                "(switch between them in Edit Account)")
    available: Optional[bool] = Field(description="Whether the mentor profile is available to mentees; null "
                                      "without a mentor profile")
    availability_message: Optional[str] = Field(None, description="While the mentor profile is unavailable: 'You are "
                                                "currently unavailable to mentees'; null otherwise")


class LocationOut(Closed):
    country: str = Field(description="ISO 3166-1 alpha-2 code; empty when not given")
    region: Optional[str] = Field(description="A `regions` id from the taxonomy")
    city: Optional[str] = Field(description="Free text")


class _MentorFields(Closed):
    headline: str = Field(description="One line that sums the mentor up")
    bio: str = Field(description="Free text")
    expertise: list[str] = Field(description="`expertise` ids from the taxonomy")
    sectors: list[str] = Field(description="`sectors` ids")
    career_stage: Optional[str] = Field(description="A `career_stages` id")
    years_experience: Optional[int] = Field(description="Years in the profession")
    qualifications: list[str] = Field(description="`qualifications` ids")
    languages: list[str] = Field(description="`languages` ids (ISO 639-1)")
    interaction_modes: list[str] = Field(description="in_person, video, email")
    location: LocationOut = Field(description="Where the mentor is")
    employer: Optional[str] = Field(description="Employer, free text")
    interests: list[str] = Field(description="Free tags")


class MentorProfileOut(_MentorFields):
    member_id: str = Field(description="Membership number")
    name: str = Field(description="Name from the membership system")
    email: str = Field(description="Email from the membership system")
    available: bool = Field(description="Whether mentees can find and propose to me")
    updated_at: datetime = Field(description="RFC 3339, UTC")
    etag: str = Field(description="The profile's entity tag (also the `ETag` header): `If-Match` on a change, "
                                  "`If-None-Match` on a read")
    availability_message: Optional[str] = Field(
        None, description="Present only while unavailable: \"You are currently unavailable to mentees\"")


class MenteeProfileOut(Closed):
    member_id: str = Field(description="Membership number")
    name: str = Field(description="Name from the membership system")
    email: str = Field(description="Email from the membership system")
    goals: str = Field(description="What I hope to achieve (free text)")
    areas_sought: list[str] = Field(description="`expertise` ids I want help with")
    career_stage: Optional[str] = Field(description="A `career_stages` id")
    sectors: list[str] = Field(description="`sectors` ids")
    location: LocationOut = Field(description="Where I am")
    languages: list[str] = Field(description="`languages` ids")
    interaction_modes: list[str] = Field(description="in_person, video, email")
    interests: list[str] = Field(description="Free tags")
    updated_at: datetime = Field(description="RFC 3339, UTC")
    etag: str = Field(description="The profile's entity tag (also the `ETag` header): `If-Match` on a change, "
                                  "`If-None-Match` on a read")


class MentorStatsOut(Closed):
    proposals_received: int = Field(description="Proposals the mentor has received")
    response_rate: Optional[int] = Field(description="Percent of them answered; null before the first")
    median_response_hours: Optional[float] = Field(description="Median hours to an answer")
    active_mentees: int = Field(description="Relationships accepted and open")
    pending_proposals: int = Field(description="Proposals waiting for an answer")


class InTouchOut(Closed):
    relationship_id: str = Field(description="The open relationship (GET /v1/relationships/{id})")
    status: str = Field(description="pending (proposal sent, no answer yet) or accepted")
    my_role: str = Field(description="My side of it: mentee (this is my mentor) or mentor")


class PublicMentorOut(_MentorFields):
    member_id: str = Field(description="Membership number")
    name: str = Field(description="Name from the membership system")
    available: bool = Field(description="Whether the mentor takes proposals now")
    stats: MentorStatsOut = Field(description="How the mentor answers proposals")
    relationship: Optional[InTouchOut] = Field(
        description="Whether I am already in touch with this mentor: the open (pending or accepted) relationship "
                    "between us and my role in it; null when there is none")


class TaxonomyEntryOut(Closed):
    id: str = Field(description="What profiles and searches use")
    label: str = Field(description="What people read")


class LocationIn(Closed):
    country: Line = Field(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2 code, e.g. GB")
    region: Optional[Line] = Field(None, max_length=100, description="A `regions` id from the taxonomy")
    city: Optional[Line] = Field(None, max_length=100, description="Free text")


class MentorProfileIn(Closed):
    headline: Line = Field(min_length=1, max_length=200, description="One line that sums me up")
    bio: Text = Field("", max_length=5000, description="Free text")
    expertise: list[Tag] = Field(min_length=1, max_length=20, description="`expertise` ids from the taxonomy")
    sectors: list[Tag] = Field(default_factory=list, max_length=20, description="`sectors` ids")
    career_stage: Optional[Tag] = Field(None, description="A `career_stages` id")
    years_experience: Optional[StrictInt] = Field(None, ge=0, le=70, description="Years in the profession")
    qualifications: list[Tag] = Field(default_factory=list, max_length=20, description="`qualifications` ids")
    languages: list[Tag] = Field(default_factory=list, max_length=20, description="`languages` ids (ISO 639-1)")
    interaction_modes: list[Tag] = Field(default_factory=list, max_length=3, description="in_person, video, email")
    location: Optional[LocationIn] = Field(None, description="Where I am")
    employer: Optional[Line] = Field(None, max_length=200, description="My employer")
    interests: list[Tag] = Field(default_factory=list, max_length=20, description="Free tags")


class MenteeProfileIn(Closed):
    goals: Text = Field("", max_length=5000, description="What I hope to achieve (free text)")
    areas_sought: list[Tag] = Field(default_factory=list, max_length=20, description="`expertise` ids I want help with")
    career_stage: Optional[Tag] = Field(None, description="A `career_stages` id")
    sectors: list[Tag] = Field(default_factory=list, max_length=20, description="`sectors` ids")
    location: Optional[LocationIn] = Field(None, description="Where I am")
    languages: list[Tag] = Field(default_factory=list, max_length=20, description="`languages` ids")
    interaction_modes: list[Tag] = Field(default_factory=list, max_length=3, description="in_person, video, email")
    interests: list[Tag] = Field(default_factory=list, max_length=20, description="Free tags")


class AvailabilityIn(Closed):
    available: StrictBool = Field(description="true: mentees can find me and propose; false: they cannot")


class PageIn(Closed):
    size: StrictInt = Field(20, description="Results per page, 1 to 100 (like every list's `limit`)")
    cursor: Optional[Line] = Field(None, description="`next_cursor` of the previous page, for the same search")


class SearchIn(Closed):
    text: Optional[Text] = Field(None, description="What I need, in my own words (at most 500 characters); "
                                                   "without it, the goals of my mentee profile are used")
    criteria: dict[Line, Json] = Field(default_factory=dict, description="Soft criteria by profile field "
                                       "(e.g. `expertise`, `sectors`, `location.region`): a value or a list")
    weights: dict[Line, Json] = Field(default_factory=dict, description="How much each criterion counts (a number)")
    filters: dict[Line, Json] = Field(default_factory=dict,
                                      description="Hard filters: same fields as criteria; must hold, add no score")
    page: PageIn = Field(default_factory=PageIn, description="Which page: `size` and `cursor`")


class MatchedOut(Closed):
    criterion: str = Field(description="The criterion the mentor met")
    values: list[Any] = Field(description="The values of it the mentor has")
    weight: float = Field(description="The weight it counted with")


class ConnectionOut(Closed):
    kind: str = Field(description="What you share: sectors, employer, region, interests, qualifications, languages")
    values: list[str] = Field(description="The shared values")


class RelationshipFlag(Closed):
    relationship_id: str = Field(description="The open relationship")
    status: str = Field(description="pending or accepted")


class SearchMentorOut(_MentorFields):
    member_id: str = Field(description="Membership number")
    name: str = Field(description="Name")


class MatchedTextOut(Closed):
    sentence: str = Field(description="The passage of the mentor's profile (headline, expertise line or a "
                                      "sentence of the bio) closest in meaning to the need")
    similarity: float = Field(description="Cosine similarity of that passage with the need (-1..1)")


class SearchResultOut(Closed):
    mentor: SearchMentorOut = Field(description="The mentor's public profile")
    score: float = Field(description="The ranking score (higher first)")
    match_percent: int = Field(description="0 to 100: how much of what was asked the mentor meets")
    matched: list[MatchedOut] = Field(description="Which criteria the mentor met")
    matched_text: Optional[MatchedTextOut] = Field(
        description="Why the text matched; null without a need or when no passage is near it")
    connections: list[ConnectionOut] = Field(description="What you share with the mentor (ice-breakers)")
    relationship: Optional[RelationshipFlag] = Field(
        description="Set when the searcher already has a pending or accepted relationship with this mentor")


class SearchOut(Closed):
    items: list[SearchResultOut] = Field(description="Best first (every list of the API pages as `items` + "
                                                     "`next_cursor`)")
    results: list[SearchResultOut] = Field(description="The same list as `items`, under the name search first "
                                                       "answered with; kept for existing clients", deprecated=True)
    total: int = Field(description="How many mentors match in all")
    next_cursor: Optional[str] = Field(description="Pass as `page.cursor` for the next page; null on the last")
    need: Optional[str] = Field(description="What meaning was read from: `text`, `mentee_goals` (no text "
                                            "given: the goals of my mentee profile) or null (criteria only)")


class SuggestionOut(Closed):
    member_id: str = Field(description="Membership number")
    name: str = Field(description="Name")
    headline: str = Field(description="Headline")
    expertise: list[str] = Field(description="The mentor's `expertise` ids, so the caller can say which of the "
                                 "asked areas each suggestion covers")


class ConnectionFactsOut(Closed):
    member_id: str = Field(description="The member")
    profiles: list[dict[str, Any]] = Field(description="The comparable fields of each profile (mentee first)")


class SharedConnectionsOut(Closed):
    member_id: str = Field(description="One member")
    other_id: str = Field(description="The other")
    connections: list[ConnectionOut] = Field(description="What they share")


def _location(model: Optional[LocationIn]) -> Location:
    if model is None:
        return Location()
    return Location(country=model.country.upper(), region=model.region, city=model.city)


@router.get("/members/me", response_model=MeOut,
            summary="Who the token says I am, the profiles I hold and my availability")
def read_me(member: Member = Depends(current_member), matching: MatchingService = Depends(service)) -> MeOut:
    return MeOut(member_id=member.id, name=member.name, email=member.email, roles=sorted(member.roles),
                 **matching.account(member.id))


@router.get("/taxonomy", tags=["matching"], response_model=dict[str, list[TaxonomyEntryOut]], summary="Allowed values of every controlled field")
def read_taxonomy(_member: Member = Depends(current_member)) -> dict[str, list[dict[str, str]]]:
    return MatchingService.taxonomy()


def tagged(model: type[BaseModel], view: dict[str, Any], if_none_match: str | None = None) -> Response:
    """A profile with its `ETag`; 304 and no body when `If-None-Match` names it."""
    if not_modified(if_none_match, view["etag"]):
        return Response(status_code=304, headers={"ETag": view["etag"]})
    body = model.model_validate(view).model_dump(mode="json", exclude_unset=True)
    return JSONResponse(body, headers={"ETag": view["etag"]})


#: Profiles: writes may name the version they are based on; without `If-Match` the last write wins.
PROFILE_WRITE: dict[int | str, dict[str, Any]] = {
    404: {"description": "No profile to change yet (availability), or the member is unknown"},
    412: {"description": "`If-Match` names a version that is not current (the `ETag` header is)"}}
PROFILE_READ: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: `If-None-Match` names the current ETag"},
    404: {"description": "I have no such profile yet"}}


@router.put("/members/me/mentor-profile", tags=["matching"], response_model=MentorProfileOut,
            responses=PROFILE_WRITE, summary="Create or replace my mentor profile (If-Match optional)")
def put_mentor_profile(body: MentorProfileIn, member: Member = Depends(current_member),
                       matching: MatchingService = Depends(service), if_match: IfMatch = None) -> Response:
    profile = MentorProfile(**{**body.model_dump(exclude={"location"}), "location": _location(body.location)})
    return tagged(MentorProfileOut, matching.put_mentor_profile(member.id, profile, if_match))


@router.get("/members/me/mentor-profile", tags=["matching"], response_model=MentorProfileOut,
            responses=PROFILE_READ, summary="My mentor profile, with availability (ETag, If-None-Match)")
def get_mentor_profile(member: Member = Depends(current_member), matching: MatchingService = Depends(service),
                       if_none_match: IfNoneMatch = None) -> Response:
    return tagged(MentorProfileOut, matching.get_mentor_profile(member.id), if_none_match)


@router.put("/members/me/mentor-profile/availability", tags=["matching"], response_model=MentorProfileOut,
            responses=PROFILE_WRITE, summary="Switch my availability to mentees off or on (If-Match optional)")
def put_availability(body: AvailabilityIn, member: Member = Depends(current_member),
                     matching: MatchingService = Depends(service), if_match: IfMatch = None) -> Response:
    return tagged(MentorProfileOut, matching.set_availability(member.id, body.available, if_match))


@router.put("/members/me/mentee-profile", tags=["matching"], response_model=MenteeProfileOut,
            responses=PROFILE_WRITE, summary="Create or replace my mentee profile (If-Match optional)")
def put_mentee_profile(body: MenteeProfileIn, member: Member = Depends(current_member),
                       matching: MatchingService = Depends(service), if_match: IfMatch = None) -> Response:
    profile = MenteeProfile(**{**body.model_dump(exclude={"location"}), "location": _location(body.location)})
    return tagged(MenteeProfileOut, matching.put_mentee_profile(member.id, profile, if_match))


@router.get("/members/me/mentee-profile", tags=["matching"], response_model=MenteeProfileOut,
            responses=PROFILE_READ, summary="My mentee profile (ETag, If-None-Match)")
def get_mentee_profile(member: Member = Depends(current_member), matching: MatchingService = Depends(service),
                       if_none_match: IfNoneMatch = None) -> Response:
    return tagged(MenteeProfileOut, matching.get_mentee_profile(member.id), if_none_match)


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
             responses={503: {"description": "The search engine does not answer; retry later"}},
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
    result["items"] = result["results"]  # one list, two names: serialised twice, computed once
    after: Cursor | None = result["next_cursor"]
    result["next_cursor"] = None if after is None else cursors.seal(
        after.values(), kind="search", member_id=member.id, query=query.fingerprint)
    # The result is plain JSON data already; re-validating it through SearchOut cost
    # more than the search itself (SearchOut still documents the shape), and orjson
    # writes it in a tenth of the time the standard library takes.
    return Response(orjson.dumps(result), media_type="application/json")


@router.get("/mentors/suggestions", response_model=list[SuggestionOut], tags=["matching"],
            responses={503: {"description": "The search engine does not answer; retry later"}},
            summary="Available mentors matching these expertise areas (used for expired proposals)")
def suggest_mentors(areas: list[Tag] = Query(default_factory=list, max_length=20),
                    exclude: list[Id] = Query(default_factory=list, max_length=100),
                    limit: int = Query(3, ge=1, le=20),
                    _member: Member = Depends(current_member),
                    matching: MatchingService = Depends(service)) -> list[dict[str, str]]:
    return matching.suggest_mentors(areas, exclude, limit)


@router.get("/members/{member_id}/connection-facts", tags=["matching"], response_model=ConnectionFactsOut,
            summary="The comparable fields of a member's profiles (for 'what you share'; service tokens)")
def get_connection_facts(member_id: Id, member: Member = Depends(current_member),
                         matching: MatchingService = Depends(service)) -> dict[str, Any]:
    # The relationships service asks with its service credential; a member may ask about themself.
    if member.id != member_id and "service" not in member.roles:
        raise Forbidden("Only the member themself or a Connect service may read these facts.", code="service-only")
    return {"member_id": member_id, "profiles": matching.connection_facts(member_id)}


@router.get("/members/{member_id}/shared-with/{other_id}", tags=["matching"], response_model=SharedConnectionsOut,
            summary="What two members share, for the first conversation's ice-breakers (service tokens)")
def get_shared_connections(member_id: Id, other_id: Id, member: Member = Depends(current_member),
                           matching: MatchingService = Depends(service)) -> dict[str, Any]:
    # Comparing with anyone would tell a member about anyone: the relationships service asks.
    if "service" not in member.roles:
        raise Forbidden("Only a Connect service may compare two members.", code="service-only")
    return {"member_id": member_id, "other_id": other_id,
            "connections": matching.compare_members(member_id, other_id)}


@router.get("/mentors/{member_id}", tags=["matching"], response_model=PublicMentorOut, summary="A mentor's profile page (404 when inactive)")
def get_mentor(member_id: Id, member: Member = Depends(current_member),
               matching: MatchingService = Depends(service)) -> dict[str, Any]:
    return matching.public_mentor(member_id, viewer_id=member.id)

