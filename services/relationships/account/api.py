"""Routes of the account room: deleting my account, my CPD record, support requests
and the support team's view of a relationship.

Each route owns its status code and headers; POSTs honour `Idempotency-Key` (see `http.py`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import Field

from connect.models import Closed
from connect.paging import Page
from connect.auth import Member, current_member
from connect.cursors import fingerprint
from connect.text import Id, Text
from connect.uow import Receipt
from services.relationships.account.domain import (MAX_OUTCOME_CHARS, MAX_SUPPORT_MESSAGE_CHARS, SupportKind,
                                                   SupportOutcome)
from services.relationships.account.services import AccountService
from services.relationships.adapters.idempotency import Answer
from services.relationships.http import (IdempotencyKey, PageCursor, PageLimit, idempotent, open_after, relationships,
                                         seal_after)

# Tagged as before the rooms were split, so the published API document stays the same.
router = APIRouter(prefix="/v1", tags=["workspace"])


def account(request: Request) -> AccountService:
    return relationships(request).account


def support_requested(view: dict[str, Any]) -> Answer:
    return Answer(201, view, {"Location": f"/v1/support-requests/{view['id']}"})


class SupportRequestIn(Closed):
    kind: SupportKind = Field(description="erasure (remove my data), contact_partner (reach my partner for me) "
                                          "or other")
    relationship_id: Id | None = Field(None, max_length=36, description="The relationship it is about, if any")
    message: Text = Field("", max_length=MAX_SUPPORT_MESSAGE_CHARS, description="What I need")
    on_behalf_of: Id | None = Field(None, description="Support role only: the member who asked by phone, email or mail.")


class PartnerMessageIn(Closed):
    body: Text = Field(min_length=1, max_length=MAX_SUPPORT_MESSAGE_CHARS,
                       description="What the customer service team tells the partner; emailed to them.")


class PartnerMessageOut(Closed):
    id: str = Field(description="The message's id")
    request_id: str = Field(description="The contact_partner request it answers")
    author_id: str = Field(description="The support team member who wrote it.")
    recipient_id: str = Field(description="The requester's partner in the request's relationship.")
    body: str = Field(description="What the team wrote; emailed to the partner")
    sent_at: str = Field(description="UTC, ISO 8601.")


class PartnerOut(Closed):
    member_id: str = Field(description="The requester's partner in the request's relationship")
    name: str | None = Field(description="The partner's name; null when not known")
    email: str | None = Field(description="The partner's email; null when not known")
    role: Literal["mentor", "mentee"] = Field(description="The partner's side of the relationship")


def partner_message_sent(view: dict[str, Any]) -> Answer:
    return Answer(201, view, {"Location": f"/v1/support-requests/{view['request_id']}"})


class ResolveIn(Closed):
    outcome: SupportOutcome = Field(description="approved (an erasure is carried out), declined or done")
    note: Text | None = Field(None, max_length=MAX_OUTCOME_CHARS, description="The note the member sees")


Time = Field(description="RFC 3339, UTC")


class AccountDeletedOut(Closed):
    member_id: str = Field(description="My membership number")
    deleted_at: str = Time
    withdrawn_relationships: list[str] = Field(description="Ids of the open relationships I was withdrawn from")


class CpdTotalsOut(Closed):
    meetings_held: int = Field(description="Meetings held (not cancelled, over)")
    meeting_minutes: int = Field(description="Their minutes, added up")
    relationships: int = Field(description="Relationships that were accepted")
    goals: int = Field(description="Goals recorded")


class CpdActivityOut(Closed):
    activity: Literal["meeting", "relationship", "goal"] = Field(description="What kind of activity")
    relationship_id: str = Field(description="The relationship it belongs to")
    role: str = Field(description="My role in it: mentor or mentee")
    counterpart: str = Field(description="The other party's name")
    date: str = Field(description="ISO date it happened or started")
    minutes: int | None = Field(description="A meeting's length; null otherwise")
    title: str = Field(description="A meeting's agenda, a goal, or the relationship's areas")
    status: str = Field(description="held, a goal's status, or the relationship's status")
    learning_outcomes: str = Field(description="What I noted I learned")


class CpdRecordOut(Closed):
    member_id: str = Field(description="My membership number")
    generated_at: str = Time
    totals: CpdTotalsOut = Field(description="Sums over the activities")
    activities: list[CpdActivityOut] = Field(description="In date order")


class SupportRequestOut(Closed):
    id: str = Field(description="The request's id")
    member_id: str = Field(description="Who it is for")
    kind: SupportKind = Field(description="erasure, contact_partner or other")
    relationship_id: str | None = Field(description="The relationship it is about, if any")
    message: str = Field(description="What the member wrote")
    status: Literal["open", "resolved"] = Field(description="open or resolved")
    outcome: SupportOutcome | None = Field(description="approved, declined or done, once resolved")
    resolution_note: str | None = Field(description="The support team's note, once resolved")
    resolved_by: str | None = Field(description="Who resolved it")
    created_at: str = Time
    resolved_at: str | None = Field(description="RFC 3339, UTC; null while open")
    partner: PartnerOut | None = Field(None, description="Support role, contact_partner requests only: who the "
                                       "requester's partner is (null once the relationship is gone); absent "
                                       "otherwise")
    partner_messages: list[PartnerMessageOut] | None = Field(
        None, description="Support role, contact_partner requests only: what the team wrote to the partner; "
                          "absent otherwise")


class SupportRequestListOut(Page[SupportRequestOut]):
    """Newest first."""


class SupportStatusChangeOut(Closed):
    action: str = Field(description="The move")
    to_status: str = Field(description="The status it led to")
    actor_id: str | None = Field(description="Who made it; null for the system")
    at: str = Time


class SupportMessagesOut(Closed):
    count: int = Field(description="How many messages")
    last_at: str | None = Field(description="RFC 3339, UTC: the last one")
    by_member: dict[str, int] = Field(description="How many each party wrote")


class SupportMeetingOut(Closed):
    id: str = Field(description="The meeting's id")
    starts_at: str = Time
    status: str = Field(description="scheduled or cancelled")
    duration_minutes: int = Field(description="Length in minutes")
    mode: str = Field(description="in_person, video or email")


class SupportRelationshipOut(Closed):
    """What the support team sees: never message bodies, tool contents, proposal texts or reasons."""

    id: str = Field(description="The relationship's id")
    status: str = Field(description="Its status")
    mentor_id: str = Field(description="The mentor's membership number")
    mentee_id: str = Field(description="The mentee's membership number")
    created_at: str = Time
    updated_at: str = Time
    accepted_at: str | None = Field(description="RFC 3339, UTC; null until accepted")
    planned_end: str | None = Field(description="RFC 3339, UTC; null until accepted")
    status_history: list[SupportStatusChangeOut] = Field(description="Every move, oldest first")
    messages: SupportMessagesOut = Field(description="Message counts, never bodies")
    meetings: list[SupportMeetingOut] = Field(description="Meetings, never agendas")
    tools: dict[str, int] = Field(description="How many tools of each kind, never their contents")
    last_active: dict[str, str | None] = Field(description="Each party's last activity")


@router.delete("/members/me", response_model=AccountDeletedOut, summary="Delete my account: withdraw everywhere, leave search, refuse my tokens")
def delete_account(request: Request, member: Member = Depends(current_member)) -> dict[str, Any]:
    return account(request).delete_account(member)


@router.get("/members/me/cpd", summary="My mentoring activity for a CPD log (format=json or csv)",
            response_model=None,
            responses={200: {"model": CpdRecordOut, "description": "The record as JSON (`format=json`) or CSV "
                                                                  "(`format=csv`)",
                             "content": {"text/csv": {"schema": {"type": "string"}}}}})
def cpd_record(request: Request, member: Member = Depends(current_member),
               format: Literal["json", "csv"] = "json") -> Any:
    service = account(request)
    record = service.cpd_record(member.id)
    if format == "csv":
        stamp = datetime.fromisoformat(record["generated_at"].replace("Z", "+00:00")).date().isoformat()
        return Response(service.cpd_csv(record), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="connect-cpd-{stamp}.csv"'})
    return record


@router.post("/support-requests", status_code=201, response_model=SupportRequestOut,
             responses={404: {"description": "`relationship_id` names no relationship of yours"}}, summary="Ask the customer service team for help or erasure")
def create_support_request(body: SupportRequestIn, request: Request, member: Member = Depends(current_member),
                           idempotency_key: IdempotencyKey = None) -> JSONResponse:
    def run(receipt: Receipt | None) -> dict[str, Any]:
        return account(request).create_support_request(member, body.kind, body.relationship_id, body.message,
                                                       receipt, body.on_behalf_of)

    return idempotent(request, member, idempotency_key, body.model_dump(mode="json"), run, support_requested)


@router.get("/support-requests", response_model=SupportRequestListOut, summary="My support requests (the support role: everyone's)")
def list_support_requests(request: Request, member: Member = Depends(current_member),
                          status: Literal["open", "resolved"] | None = None, cursor: PageCursor = None,
                          limit: PageLimit = 20, *, response: Response) -> dict[str, Any]:
    query = fingerprint(status, member.is_support)
    after = open_after(request, member.id, cursor, kind="support-requests", query=query)
    view = account(request).list_support_requests(member, status, after, limit)
    return seal_after(request, member.id, view, kind="support-requests", query=query, response=response)


@router.get("/support-requests/{request_id}", response_model=SupportRequestOut, response_model_exclude_unset=True,
            summary="One support request (its author or the support role); for the support role a "
                    "contact_partner request adds `partner` (name, email) and `partner_messages`")
def get_support_request(request_id: Id, request: Request, member: Member = Depends(current_member)) -> dict[str, Any]:
    return account(request).get_support_request(member, request_id)


@router.post("/support-requests/{request_id}/partner-messages", status_code=201, response_model=PartnerMessageOut,
             summary="Support role: write to the requester's partner (contact_partner requests); emailed and "
                     "recorded on the request")
def send_partner_message(request_id: Id, body: PartnerMessageIn, request: Request,
                         member: Member = Depends(current_member), idempotency_key: IdempotencyKey = None
                         ) -> JSONResponse:
    def run(receipt: Receipt | None) -> dict[str, Any]:
        return account(request).send_partner_message(member, request_id, body.body, receipt)

    return idempotent(request, member, idempotency_key, body.model_dump(mode="json"),
                      run, partner_message_sent)


@router.post("/support-requests/{request_id}/resolve", response_model=SupportRequestOut,
             summary="Support role: resolve; approving an erasure anonymises the member everywhere")
def resolve_support_request(request_id: Id, body: ResolveIn, request: Request,
                            member: Member = Depends(current_member)) -> dict[str, Any]:
    return account(request).resolve_support_request(member, request_id, body.outcome, body.note)


@router.get("/support/relationships/{relationship_id}", response_model=SupportRelationshipOut,
            summary="Support role: a relationship's metadata, never message bodies or tool contents")
def support_relationship(relationship_id: Id, request: Request,
                         member: Member = Depends(current_member)) -> dict[str, Any]:
    return account(request).support_relationship_view(member, relationship_id)
