"""The Relationships tab, each row's Actions, the Details of a proposal and Edit details."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from portal.connect_api import ApiError
from portal.forms import proposal_body
from portal.web import PageNotFound, api_for, checked_form, idempotency_key, local_path, redirect, render, signed_in

router = APIRouter()

#: The API's actions, as the portal names them (Edit has a page of its own).
ACTION_LABELS = {"accept": "Accept", "reject": "Reject", "withdraw": "Withdraw", "reopen": "Reopen Request",
                 "complete": "Complete", "edit": "Edit details"}
TRANSITIONS = ("accept", "reject", "withdraw", "reopen", "complete")
DONE = {"accept": "You accepted the proposal. Your relationship dashboard is open.",
        "reject": "You rejected the proposal.", "withdraw": "You withdrew. The other person has been told.",
        "reopen": "You reopened the request. The other person has been told.",
        "complete": "You marked the relationship as complete."}


@router.get("/relationships")
async def relationships(request: Request, cursor: str | None = None, status: str | None = None) -> Response:
    member = signed_in(request)
    role = member.account if member.account in ("mentor", "mentee") else None
    listing = await api_for(request, member).relationships(role=role, statuses=[status] if status else None,
                                                           cursor=cursor, limit=20)
    return await render(request, "relationships.html", listing=listing, role=role, status_filter=status,
                        action_labels=ACTION_LABELS)


@router.post("/relationships/{relationship_id}/action")
async def act(request: Request, relationship_id: str, form: FormData = Depends(checked_form)) -> Response:
    member = signed_in(request)
    action = str(form.get("action") or "")
    if action not in TRANSITIONS:
        raise PageNotFound()
    back = local_path(str(form.get("back") or ""), "/relationships", f"/relationships/{relationship_id}")
    try:
        await api_for(request, member).transition(
            relationship_id, action, reason=str(form.get("reason") or "").strip() or None,
            expected_status=str(form.get("expected_status") or "") or None, idempotency_key=idempotency_key(form))
    except ApiError as exc:
        if exc.status != 409:
            raise
        return redirect(back, f"That was not possible: {exc.detail}", request)
    if action == "accept":
        return redirect(f"/relationships/{relationship_id}/dashboard", DONE[action], request)
    return redirect(back, DONE[action], request)


@router.get("/relationships/{relationship_id}")
async def details(request: Request, relationship_id: str) -> Response:
    member = signed_in(request)
    found = await api_for(request, member).relationship(relationship_id)
    return await render(request, "details.html", rel=found.body, action_labels=ACTION_LABELS)


@router.get("/relationships/{relationship_id}/edit")
async def edit_page(request: Request, relationship_id: str) -> Response:
    member = signed_in(request)
    found = await api_for(request, member).relationship(relationship_id)
    if "edit" not in found.body["actions"]:
        return redirect(f"/relationships/{relationship_id}", "This proposal can no longer be edited.", request)
    return await render(request, "proposal_edit.html", rel=found.body, values=found.body["proposal"],
                        etag=found.etag, errors={})


@router.post("/relationships/{relationship_id}/edit")
async def edit(request: Request, relationship_id: str, form: FormData = Depends(checked_form)) -> Response:
    member = signed_in(request)
    api = api_for(request, member)
    changes = proposal_body(form)
    try:
        await api.edit_proposal(relationship_id, str(form.get("etag") or ""), changes)
    except ApiError as exc:
        if exc.status not in (409, 412, 422, 428):
            raise
        found = await api.relationship(relationship_id)
        errors = exc.field_errors() if exc.status == 422 else {
            "": "Someone changed this proposal while you were editing it; here is the latest version."
            if exc.status == 412 else exc.detail}
        return await render(request, "proposal_edit.html", status=exc.status, rel=found.body,
                            values=changes if exc.status == 422 else found.body["proposal"],
                            etag=found.etag, errors=errors)
    return redirect(f"/relationships/{relationship_id}", "Your changes to the proposal are saved.", request)
