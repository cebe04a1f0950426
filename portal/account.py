"""Home, Edit Account (membership details, which accounts, availability, deletion) and profiles."""

from __future__ import annotations

from asyncio import gather

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from portal.connect_api import ApiError
from portal.forms import optional, profile_body
from portal.sign_in import refresh_holds
from portal.web import PageNotFound, api_for, checked_form, member_of, new_session, redirect, render, signed_in

router = APIRouter()
KINDS = ("mentor", "mentee")
STALE_PROFILE = ("Your profile was changed somewhere else (another window or device) after you opened this form, "
                 "so your changes were not saved. Here is the profile as it is now: make your changes again.")


@router.get("/")
async def home(request: Request) -> Response:
    member = member_of(request)
    if member is None:
        return await render(request, "landing.html")
    if member.is_support:
        return RedirectResponse("/support/queue", status_code=303)
    if member.account is None:
        return RedirectResponse("/choose-account" if len(member.holds) > 1 else "/account", status_code=303)
    api = api_for(request, member)
    if member.account == "mentor":
        dashboard, profile = await gather(api.my_dashboard(role="mentor", limit=20), api.profile("mentor"))
    else:
        dashboard, profile = await api.my_dashboard(role=member.account, limit=20), None
    return await render(request, "home.html", dashboard=dashboard, mentor_profile=profile)


@router.get("/account")
async def edit_account(request: Request) -> Response:
    member = signed_in(request)
    if member.is_support:
        return await render(request, "account.html", me=await api_for(request, member).me(), mentor_profile=None)
    me, profiles = await gather(api_for(request, member).me(), refresh_holds(request))
    return await render(request, "account.html", me=me, mentor_profile=profiles["mentor"])


@router.post("/account/roles")
async def choose_roles(request: Request, form: FormData = Depends(checked_form)) -> Response:
    """'I want to be a mentor / mentee': a new tick leads to the new profile's form."""
    member = signed_in(request)
    wanted = [kind for kind in KINDS if form.get(f"want_{kind}")]
    new = [kind for kind in wanted if kind not in member.holds]
    if new:
        return redirect(f"/profile/{new[0]}/edit?new=1")
    return redirect("/account", "Nothing changed.", request)


@router.post("/account/availability")
async def availability(request: Request, form: FormData = Depends(checked_form)) -> Response:
    member = signed_in(request)
    available = form.get("available") == "true"
    await api_for(request, member).set_availability(available)
    message = "You are available to mentees again." if available else "You are currently unavailable to mentees."
    return redirect(_back(form, "/account"), message, request)


def _back(form: FormData, default: str) -> str:
    return {"/account": "/account", "/profile/mentor": "/profile/mentor"}.get(str(form.get("back") or ""), default)


@router.get("/account/delete")
async def delete_confirm(request: Request) -> Response:
    signed_in(request)
    return await render(request, "account_delete.html")


@router.post("/account/delete")
async def delete_account(request: Request, form: FormData = Depends(checked_form)) -> Response:
    member = signed_in(request)
    if form.get("confirm") != "yes":
        return await render(request, "account_delete.html", status=422,
                            error="Tick the box to confirm that you want to delete your account.")
    result = await api_for(request, member).delete_account()
    new_session(request)
    return await render(request, "account_deleted.html", withdrawn=len(result.get("withdrawn_relationships") or []))


@router.get("/profile/{kind}")
async def profile(request: Request, kind: str) -> Response:
    member = signed_in(request)
    if kind not in KINDS:
        raise PageNotFound()
    found = await api_for(request, member).profile(kind)
    if found is None:
        return RedirectResponse(f"/profile/{kind}/edit?new=1", status_code=303)
    return await render(request, "profile.html", kind=kind, profile=found)


@router.get("/profile/{kind}/edit")
async def profile_form(request: Request, kind: str, new: int = 0) -> Response:
    member = signed_in(request)
    if kind not in KINDS:
        raise PageNotFound()
    found = await api_for(request, member).profile(kind)
    return await render(request, "profile_edit.html", kind=kind, profile=found or {"location": {"country": "GB"}},
                        new=found is None, errors={}, etag=(found or {}).get("etag", ""))


@router.post("/profile/{kind}/edit")
async def save_profile(request: Request, kind: str, form: FormData = Depends(checked_form)) -> Response:
    member = signed_in(request)
    if kind not in KINDS:
        raise PageNotFound()
    body = profile_body(kind, form)
    api = api_for(request, member)
    etag = optional(form, "etag")
    try:
        await api.put_profile(kind, body, etag)
    except ApiError as exc:
        if exc.status == 412:
            # Saved from another window or device since this form was opened: show that version.
            current = await api.profile(kind)
            return await render(request, "profile_edit.html", status=412, kind=kind, profile=current or body,
                                new=current is None, etag=(current or {}).get("etag", ""),
                                errors={"": STALE_PROFILE})
        if exc.status != 422:
            raise
        return await render(request, "profile_edit.html", status=422, kind=kind, profile=body,
                            new=kind not in member.holds, errors=exc.field_errors(), etag=etag or "")
    first_time = kind not in member.holds
    await refresh_holds(request)
    if first_time:
        request.session["account"] = kind
        return redirect(f"/profile/{kind}", f"Your {kind} profile is saved, and you are now using your {kind} "
                                            "account. You can switch between your accounts at the top of the page.",
                        request)
    return redirect(f"/profile/{kind}", "Your profile is saved.", request)
