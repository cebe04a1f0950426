"""Routes of the account room: deleting my account, my CPD record, support requests
and the support team's view of a relationship.

Each route owns its status code and headers; POSTs honour `Idempotency-Key` (see `http.py`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from connect.auth import Member, current_member
from connect.text import Id, Text
from connect.uow import Receipt
from services.relationships.account.domain import (MAX_OUTCOME_CHARS, MAX_SUPPORT_MESSAGE_CHARS, SupportKind,
                                                   SupportOutcome)
from services.relationships.account.services import AccountService
from services.relationships.adapters.idempotency import Answer
from services.relationships.http import IdempotencyKey, idempotent, relationships

# Tagged as before the rooms were split, so the published API document stays the same.
router = APIRouter(prefix="/v1", tags=["workspace"])


def account(request: Request) -> AccountService:
    return relationships(request).account


def support_requested(view: dict[str, Any]) -> Answer:
    return Answer(201, view, {"Location": f"/v1/support-requests/{view['id']}"})


class SupportRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: SupportKind
    relationship_id: Id | None = Field(None, max_length=36)
    message: Text = Field("", max_length=MAX_SUPPORT_MESSAGE_CHARS)
    on_behalf_of: Id | None = Field(None, description="Support role only: the member who asked by phone, email or mail.")


class PartnerMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Text = Field(min_length=1, max_length=MAX_SUPPORT_MESSAGE_CHARS,
                       description="What the customer service team tells the partner; emailed to them.")


class PartnerMessageOut(BaseModel):
    id: str
    request_id: str
    author_id: str = Field(description="The support team member who wrote it.")
    recipient_id: str = Field(description="The requester's partner in the request's relationship.")
    body: str
    sent_at: str = Field(description="UTC, ISO 8601.")


def partner_message_sent(view: dict[str, Any]) -> Answer:
    return Answer(201, view, {"Location": f"/v1/support-requests/{view['request_id']}"})


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: SupportOutcome
    note: Text | None = Field(None, max_length=MAX_OUTCOME_CHARS)


@router.delete("/members/me", summary="Delete my account: withdraw everywhere, leave search, refuse my tokens")
def delete_account(request: Request, member: Member = Depends(current_member)) -> dict[str, Any]:
    return account(request).delete_account(member)


@router.get("/members/me/cpd", summary="My mentoring activity for a CPD log (format=json or csv)",
            response_model=None)
def cpd_record(request: Request, member: Member = Depends(current_member),
               format: Literal["json", "csv"] = "json") -> Any:
    service = account(request)
    record = service.cpd_record(member.id)
    if format == "csv":
        stamp = datetime.fromisoformat(record["generated_at"].replace("Z", "+00:00")).date().isoformat()
        return Response(service.cpd_csv(record), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="connect-cpd-{stamp}.csv"'})
    return record


@router.post("/support-requests", status_code=201, summary="Ask the customer service team for help or erasure")
def create_support_request(body: SupportRequestIn, request: Request, member: Member = Depends(current_member),
                           idempotency_key: IdempotencyKey = None) -> JSONResponse:
    def run(receipt: Receipt | None) -> dict[str, Any]:
        return account(request).create_support_request(member, body.kind, body.relationship_id, body.message,
                                                       receipt, body.on_behalf_of)

    return idempotent(request, member, idempotency_key, body.model_dump(mode="json"), run, support_requested)


@router.get("/support-requests", summary="My support requests (the support role: everyone's)")
def list_support_requests(request: Request, member: Member = Depends(current_member),
                          status: Literal["open", "resolved"] | None = None,
                          limit: int = Query(50, ge=1, le=200)) -> dict[str, Any]:
    return account(request).list_support_requests(member, status, limit)


@router.get("/support-requests/{request_id}", summary="One support request (its author or the support role); "
            "for the support role a contact_partner request adds `partner` (name, email) and `partner_messages`")
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


@router.post("/support-requests/{request_id}/resolve",
             summary="Support role: resolve; approving an erasure anonymises the member everywhere")
def resolve_support_request(request_id: Id, body: ResolveIn, request: Request,
                            member: Member = Depends(current_member)) -> dict[str, Any]:
    return account(request).resolve_support_request(member, request_id, body.outcome, body.note)


@router.get("/support/relationships/{relationship_id}",
            summary="Support role: a relationship's metadata, never message bodies or tool contents")
def support_relationship(relationship_id: Id, request: Request,
                         member: Member = Depends(current_member)) -> dict[str, Any]:
    return account(request).support_relationship_view(member, relationship_id)
