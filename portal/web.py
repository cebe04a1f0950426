"""What every page shares: the session, CSRF, security headers, the API client of the signed-in
member, and rendering."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.fernet import Fernet, InvalidToken
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.connect_api import ApiError, ConnectApi
from portal.settings import PortalSettings

TEMPLATES = Path(__file__).parent / "templates"
ACCOUNTS = ("mentor", "mentee", "support")
#: A status history's actions, as the history reads ("Ada proposed").
PAST = {"propose": "proposed", "accept": "accepted", "reject": "rejected", "withdraw": "withdrew",
        "reopen": "reopened", "complete": "completed", "expire": "expired", "edit": "edited"}
#: The taxonomy vocabulary of each search criterion and "what you share" kind whose values are ids.
VOCABULARY_OF = {"expertise": "expertise", "areas": "expertise", "areas_sought": "expertise", "sectors": "sectors",
                 "career_stage": "career_stages", "region": "regions", "languages": "languages",
                 "interaction_modes": "interaction_modes", "qualifications": "qualifications"}


class SignInRequired(Exception):
    """No signed-in member, or their token has run out: go through sign-in again."""


class PageNotFound(Exception):
    pass


class CsrfRefused(Exception):
    pass


class SecurityHeaders:
    """Headers on every portal response: no inline script, no framing, no sniffing, and no caching of
    pages that show a member's data."""

    def __init__(self, app: ASGIApp, form_targets: str = "") -> None:
        self.app = app
        self.csp = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                    "media-src 'self'; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
                    f"form-action 'self'{form_targets}; frame-ancestors 'none'").encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", self.csp), (b"x-frame-options", b"DENY"),
                            (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class TokenBox:
    """Encrypts the API access token kept in the (signed) session cookie, so the cookie shows
    nothing usable against the API even to whoever reads it."""

    def __init__(self, secret: str) -> None:
        key = hashlib.sha256(b"connect-portal-token:" + secret.encode()).digest()
        self.fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, token: str) -> str:
        return self.fernet.encrypt(token.encode()).decode()

    def open(self, sealed: str) -> str | None:
        try:
            return self.fernet.decrypt(sealed.encode()).decode()
        except (InvalidToken, ValueError):
            return None


@dataclass
class Member:
    id: str
    name: str
    email: str
    roles: list[str]
    holds: list[str]
    account: str | None
    token: str

    @property
    def is_support(self) -> bool:
        return "support" in self.roles


def new_session(request: Request) -> None:
    """Start a fresh session: a new id and CSRF token, nothing of the old one kept (no fixation)."""
    request.session.clear()
    request.session["sid"] = secrets.token_urlsafe(18)
    request.session["csrf"] = secrets.token_urlsafe(24)


class _OnFirstUse:
    """A value made only when a template prints it: a page without a form starts no session."""

    def __init__(self, make: Any) -> None:
        self.make = make

    def __str__(self) -> str:
        return self.make()

    def __html__(self) -> str:
        return self.make()


def csrf_token(request: Request) -> str:
    if "csrf" not in request.session:
        request.session.setdefault("sid", secrets.token_urlsafe(18))
        request.session["csrf"] = secrets.token_urlsafe(24)
    return request.session["csrf"]


async def checked_form(request: Request) -> FormData:
    """Every form post goes through here: the form's CSRF token must be the session's."""
    form = await request.form()
    sent = str(form.get("csrf_token") or "")
    expected = request.session.get("csrf")
    if not expected or not hmac.compare_digest(sent.encode(), str(expected).encode()):
        raise CsrfRefused()
    return form


def member_of(request: Request) -> Member | None:
    s = request.session
    if "member" not in s:
        return None
    if s.get("exp", 0) <= time.time():
        return None
    token = request.app.state.token_box.open(s.get("token", ""))
    if token is None:
        return None
    m = s["member"]
    return Member(m["id"], m["name"], m["email"], list(m.get("roles", [])), list(s.get("holds", [])),
                  s.get("account"), token)


def signed_in(request: Request) -> Member:
    member = member_of(request)
    if member is None:
        raise SignInRequired()
    return member


def api_for(request: Request, member: Member | None) -> ConnectApi:
    return ConnectApi(request.app.state.http, member.token if member else None)


def idempotency_key(form: FormData) -> str:
    """The key rendered into the form (so a double submit sends it twice), or a fresh one."""
    given = str(form.get("idempotency_key") or "")
    try:
        return str(uuid.UUID(given))
    except ValueError:
        return str(uuid.uuid4())


def local_path(value: str | None, prefix: str, default: str) -> str:
    """A same-site path under `prefix` (a "back" link), never another site."""
    if not value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith(prefix) or value.startswith("//"):
        return default
    return value


def flash(request: Request, message: str) -> None:
    request.session["flash"] = message


def redirect(path: str, message: str | None = None, request: Request | None = None) -> RedirectResponse:
    if message and request is not None:
        flash(request, message)
    return RedirectResponse(path, status_code=303)


def _when(value: str | None, with_time: bool = True) -> str:
    if not value:
        return ""
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if at.tzinfo is not None and with_time:
        at = at.astimezone(timezone.utc)
        return at.strftime("%-d %b %Y, %H:%M UTC")
    return at.strftime("%-d %b %Y")


def _date(value: str | None) -> str:
    return _when(value, with_time=False)


def templates() -> Jinja2Templates:
    made = Jinja2Templates(directory=str(TEMPLATES))
    made.env.filters["when"] = _when
    made.env.filters["date"] = _date
    made.env.filters["words"] = lambda value: str(value or "").replace("_", " ")
    made.env.filters["past"] = lambda action: PAST.get(action, str(action).replace("_", " "))
    made.env.auto_reload = False
    return made


async def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    member = member_of(request)
    labels: dict[str, dict[str, str]] = context.pop("labels", None) or {}
    if not labels and member is not None:
        try:
            labels = await vocabulary(request, member)
        except (ApiError, httpx.HTTPError):
            labels = {}  # an error page must still render when the API cannot answer
    page = {
        "member": member,
        "csrf_token": _OnFirstUse(lambda: csrf_token(request)),
        "flash": request.session.pop("flash", None),
        "settings": request.app.state.settings,
        "label": lambda vocab, value: labels.get(vocab, {}).get(value, str(value).replace("_", " ")),
        "labels": labels,
        "new_key": lambda: str(uuid.uuid4()),
        "vocab_of": VOCABULARY_OF,
        **context,
    }
    return request.app.state.templates.TemplateResponse(request, template, page, status_code=status)


async def vocabulary(request: Request, member: Member) -> dict[str, dict[str, str]]:
    taxonomy = await api_for(request, member).taxonomy()
    return {name: {t["id"]: t["label"] for t in terms} for name, terms in taxonomy.items()}


def http_client(settings: PortalSettings, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
    if transport is not None:
        # In-process: the same HTTP requests, handed to the API app without a socket.
        return httpx.AsyncClient(transport=transport, base_url=settings.api_url or settings.base,
                                 timeout=settings.portal_api_timeout_seconds)
    if not settings.api_url:
        raise ValueError("CONNECT_API_URL is required when the portal runs on its own")
    return httpx.AsyncClient(base_url=settings.api_url.rstrip("/"), timeout=settings.portal_api_timeout_seconds)
