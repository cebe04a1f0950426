"""The member portal: a separate ASGI app, a client of Connect's public HTTP API only.

`create_portal(settings)` gives the app.  `connect serve` serves it at `/` beside the API (the API
keeps `/v1`, `/docs`, `/healthz`...), handing it an in-process transport to the API; `connect run
portal` serves it alone, talking to `CONNECT_API_URL`.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator
from urllib.parse import quote, urlsplit

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from portal import account, help_pages, notifications, relationships, search, sign_in, support, workspace
from portal.connect_api import ApiError
from portal.settings import PortalSettings
from portal.web import (CsrfRefused, PageNotFound, SecurityHeaders, SignInRequired, TokenBox, http_client,
                        new_session, render, templates)

STATIC = Path(__file__).parent / "static"
SESSION_COOKIE = "connect_session"


def create_portal(settings: PortalSettings | None = None, *,
                  transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    settings = settings or PortalSettings()
    if settings.portal_session_secret is None:
        raise ValueError("CONNECT_PORTAL_SESSION_SECRET is required: it signs the portal's session cookie")
    secret = settings.portal_session_secret.get_secret_value()
    if len(secret) < 32:
        raise ValueError("CONNECT_PORTAL_SESSION_SECRET must be at least 32 characters")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await app.state.http.aclose()

    app = FastAPI(title="Connect portal", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.settings = settings
    app.state.http = http_client(settings, transport)
    app.state.oidc = sign_in.oidc_client(settings, transport)
    app.state.templates = templates()
    app.state.token_box = TokenBox(secret)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    for module in (sign_in, account, search, relationships, workspace, support, notifications, help_pages):
        app.include_router(module.router)
    _errors(app)
    # Outermost first: headers on everything, then the session every page reads.
    app.add_middleware(SessionMiddleware, secret_key=secret, session_cookie=SESSION_COOKIE,
                       max_age=int(settings.portal_session_hours * 3600), same_site="lax", https_only=True)
    issuer = urlsplit(settings.issuer())
    app.add_middleware(SecurityHeaders, form_targets=f" {issuer.scheme}://{issuer.netloc}")
    return app


def _errors(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def sign_in_required(request: Request, _exc: SignInRequired) -> Response:
        target = request.url.path if request.method == "GET" else "/"
        if request.url.query and request.method == "GET":
            target += "?" + request.url.query
        return RedirectResponse("/sign-in?next=" + quote(target, safe=""), status_code=303)

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, _exc: CsrfRefused) -> Response:
        return await render(request, "error.html", status=403, title="This form has expired",
                            detail="The form was not sent from this session. Go back, reload the page and try again.")

    @app.exception_handler(PageNotFound)
    async def not_found(request: Request, _exc: PageNotFound) -> Response:
        return await render(request, "not_found.html", status=404)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return await render(request, "not_found.html", status=404)
        return await render(request, "error.html", status=exc.status_code, title="Something went wrong",
                            detail=str(exc.detail))

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        if exc.status == 401:
            new_session(request)
            return RedirectResponse("/sign-in", status_code=303)
        if sign_in.api_refused_account(exc):
            new_session(request)
            return await render(request, "error.html", status=403, title="This account was deleted",
                                detail="Your Connect account was deleted, so it can no longer be used.")
        if exc.status == 404:
            return await render(request, "not_found.html", status=404)
        return await render(request, "error.html", status=exc.status if exc.status < 500 else 502,
                            title=exc.title or "Something went wrong", detail=exc.detail)
