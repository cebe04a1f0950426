"""Support requests: a member asks for help or erasure; customer service works the queue."""

from __future__ import annotations

from asyncio import gather

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from portal.connect_api import ApiError, ConnectApi
from portal.forms import optional, text
from portal.web import Member, PageNotFound, api_for, checked_form, idempotency_key, redirect, render, signed_in

router = APIRouter()

KINDS = {"other": "Help with something else", "contact_partner": "Please contact my mentoring partner for me",
         "erasure": "Permanently delete all my personal data"}
OUTCOMES = {"erasure": ("approved", "declined"), "contact_partner": ("done", "declined"), "other": ("done", "declined")}


def _support(request: Request) -> Member:
    member = signed_in(request)
    if not member.is_support:
        raise PageNotFound()  # members find nothing here, as the API's support routes answer them
    return member


async def _my_page(request: Request, status: int = 200, errors: dict[str, str] | None = None,
                   values: dict[str, str] | None = None) -> Response:
    member = signed_in(request)
    api = api_for(request, member)
    mine, rels = await gather(api.support_requests(), api.relationships(limit=100))
    options = [(r["id"], f"{r['counterpart']['name']} (you are {r['my_role']}, {r['status']})") for r in rels["items"]]
    return await render(request, "support.html", status=status, requests=mine["items"], relationships=options,
                        kinds=KINDS, errors=errors or {}, values=values or {"kind": request.query_params.get("kind", "other")})


@router.get("/support")
async def my_support(request: Request) -> Response:
    if signed_in(request).is_support:
        return redirect("/support/queue")
    return await _my_page(request)


@router.post("/support")
async def ask(request: Request, form: FormData = Depends(checked_form)) -> Response:
    member = signed_in(request)
    body = {"kind": text(form, "kind"), "relationship_id": optional(form, "relationship_id"),
            "message": text(form, "message")}
    try:
        await api_for(request, member).create_support_request(body, idempotency_key(form))
    except ApiError as exc:
        if exc.status not in (404, 422):
            raise
        errors = exc.field_errors() if exc.status == 422 else {"relationship_id": "Choose one of your relationships."}
        return await _my_page(request, status=exc.status, errors=errors, values=body)
    return redirect("/support", "Your request was sent to our customer service team. They will be in touch.", request)


@router.get("/support/queue")
async def queue(request: Request, status: str | None = "open") -> Response:
    member = _support(request)
    status = status if status in ("open", "resolved") else None
    listing = await api_for(request, member).support_queue(status=status)
    return await render(request, "support_queue.html", requests=listing["items"], status_filter=status, kinds=KINDS,
                        errors={}, values={})


@router.post("/support/queue")
async def record_for_member(request: Request, form: FormData = Depends(checked_form)) -> Response:
    """A request a member made by phone, email or mail, recorded on their behalf."""
    member = _support(request)
    body = {"kind": text(form, "kind"), "message": text(form, "message"), "on_behalf_of": text(form, "on_behalf_of")}
    try:
        made = await api_for(request, member).create_support_request(body, idempotency_key(form))
    except ApiError as exc:
        if exc.status != 422:
            raise
        listing = await api_for(request, member).support_queue(status="open")
        return await render(request, "support_queue.html", status=422, requests=listing["items"], status_filter="open",
                            kinds=KINDS, errors=exc.field_errors() or {"": exc.detail}, values=body)
    return redirect(f"/support/requests/{made['id']}", "The request is recorded.", request)


async def _request_page(request: Request, api: ConnectApi, request_id: str, status: int = 200,
                        errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
                        failed: str = "") -> Response:
    """One request as customer service sees it: the relationship's metadata and, for a
    contact_partner request, the partner and what the team wrote to them."""
    found = await api.support_request(request_id)
    relationship = await api.support_relationship(found["relationship_id"]) if found.get("relationship_id") else None
    return await render(request, "support_request.html", status=status, item=found, relationship=relationship,
                        kinds=KINDS, outcomes=OUTCOMES.get(found["kind"], ("done", "declined")),
                        errors=errors or {}, values=values or {}, failed=failed)


@router.get("/support/requests/{request_id}")
async def support_request(request: Request, request_id: str) -> Response:
    member = _support(request)
    return await _request_page(request, api_for(request, member), request_id)


@router.post("/support/requests/{request_id}/partner-messages")
async def contact_partner(request: Request, request_id: str, form: FormData = Depends(checked_form)) -> Response:
    """Customer service writes to the member's partner on their behalf; Connect emails it."""
    member = _support(request)
    api = api_for(request, member)
    body = text(form, "body")
    try:
        await api.contact_partner(request_id, body, idempotency_key(form))
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        return await _request_page(request, api, request_id, status=exc.status, values={"body": body},
                                   errors=exc.field_errors() or {"": exc.detail}, failed="contact")
    return redirect(f"/support/requests/{request_id}", "Your message was emailed to the member's partner.", request)


@router.post("/support/requests/{request_id}")
async def resolve(request: Request, request_id: str, form: FormData = Depends(checked_form)) -> Response:
    member = _support(request)
    api = api_for(request, member)
    try:
        await api.resolve_support_request(request_id, text(form, "outcome"), optional(form, "note"))
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        return await _request_page(request, api, request_id, status=exc.status,
                                   errors=exc.field_errors() or {"": exc.detail}, failed="resolve")
    return redirect("/support/queue", "The request is resolved and the member has been told.", request)
