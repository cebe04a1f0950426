"""Sign-in with membership details: OpenID Connect authorization code with PKCE (Authlib).

The same flow runs against the membership identity provider in production (`CONNECT_OIDC_*`) and
against the development provider of the embedded default.  At the callback the session starts
anew (new id, new CSRF token): whatever a visitor's browser carried before signing in is gone.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import quote

import httpx
from authlib.integrations.starlette_client import OAuth, OAuthError
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from portal.connect_api import ApiError
from portal.settings import PortalSettings
from portal.web import (ACCOUNTS, api_for, checked_form, local_path, member_of, new_session, redirect, render,
                        signed_in)

log = logging.getLogger(__name__)
router = APIRouter()


def oidc_client(settings: PortalSettings, transport: httpx.AsyncBaseTransport | None) -> Any:
    kwargs: dict[str, Any] = {"scope": settings.oidc_scopes, "code_challenge_method": "S256",
                              "timeout": settings.portal_api_timeout_seconds}
    if transport is not None and not settings.oidc_issuer:
        # The development provider is part of the API app this process serves: reach it in-process.
        kwargs["transport"] = transport
    if settings.oidc_client_secret is None:
        kwargs["token_endpoint_auth_method"] = "none"  # a public client: PKCE is its proof
    oauth = OAuth()
    return oauth.register(
        "connect", client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None,
        server_metadata_url=settings.issuer() + "/.well-known/openid-configuration", client_kwargs=kwargs)


@router.get("/sign-in")
async def sign_in(request: Request, next: str | None = None) -> Response:
    if member_of(request) is not None:
        return RedirectResponse("/", status_code=303)
    request.session["next"] = local_path(next, "/", "/")
    client = request.app.state.oidc
    try:
        return await client.authorize_redirect(request, request.app.state.settings.base + "/auth/callback")
    except (httpx.HTTPError, OAuthError) as exc:
        log.error("the identity provider cannot be reached: %s", exc)
        return await render(request, "error.html", status=503, title="Sign-in is unavailable",
                            detail="The membership sign-in service cannot be reached right now. Please try again "
                                   "in a few minutes.")


@router.get("/auth/callback")
async def callback(request: Request) -> Response:
    client = request.app.state.oidc
    next_path = request.session.get("next") or "/"
    try:
        token = await client.authorize_access_token(request)
    except (OAuthError, httpx.HTTPError) as exc:
        log.warning("sign-in failed: %s", exc)
        return await render(request, "error.html", status=400, title="Sign-in did not complete",
                            detail="The sign-in could not be completed (it may have expired, or been started in "
                                   "another window). Please sign in again.", retry=True)
    claims = token.get("userinfo") or {}
    access = token.get("access_token")
    if not access or not claims.get("sub"):
        return await render(request, "error.html", status=400, title="Sign-in did not complete",
                            detail="The identity provider gave no usable token.", retry=True)
    new_session(request)
    expires_in = float(token.get("expires_in") or 3600)
    lifetime = min(expires_in, request.app.state.settings.portal_session_hours * 3600)
    request.session.update({
        "member": {"id": str(claims["sub"]), "name": str(claims.get("name") or claims["sub"]),
                   "email": str(claims.get("email") or ""), "roles": list(claims.get("roles") or [])},
        "token": request.app.state.token_box.seal(access),
        "exp": time.time() + lifetime,
    })
    member = signed_in(request)
    if member.is_support:
        request.session.update({"holds": [], "account": "support"})
        return RedirectResponse("/support/queue", status_code=303)
    await refresh_holds(request)
    member = signed_in(request)
    if len(member.holds) > 1:
        return RedirectResponse("/choose-account?next=" + quote(next_path, safe=""), status_code=303)
    return RedirectResponse(local_path(next_path, "/", "/") if member.holds else "/account", status_code=303)


async def refresh_holds(request: Request) -> dict[str, Any]:
    """Which profiles the member holds (asked of the API); the chosen account follows them.
    Returns the profiles, for a page that shows them."""
    member = signed_in(request)
    profiles = await api_for(request, member).profiles()
    holds = [kind for kind in ("mentor", "mentee") if profiles.get(kind) is not None]
    request.session["holds"] = holds
    account = request.session.get("account")
    if account not in holds:
        request.session["account"] = holds[0] if len(holds) == 1 else None
    return profiles


@router.get("/choose-account")
async def choose_account_page(request: Request, next: str | None = None) -> Response:
    member = signed_in(request)
    if len(member.holds) < 2:
        return RedirectResponse("/", status_code=303)
    return await render(request, "choose_account.html", next=local_path(next, "/", "/"))


@router.post("/choose-account")
async def choose_account(request: Request, form: FormData = Depends(checked_form)) -> Response:
    member = signed_in(request)
    account = str(form.get("account") or "")
    if account not in ACCOUNTS or account not in member.holds:
        return await render(request, "choose_account.html", status=422, next="/",
                            error="Choose one of your accounts.")
    request.session["account"] = account
    return redirect(local_path(str(form.get("next") or ""), "/", "/"),
                    f"You are using your {account} account.", request)


@router.post("/sign-out")
async def sign_out(request: Request, form: FormData = Depends(checked_form)) -> Response:
    new_session(request)
    return redirect("/", "You have signed out.", request)


def api_refused_account(exc: ApiError) -> bool:
    return exc.status == 403 and exc.type.endswith("account-deleted")
