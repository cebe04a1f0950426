"""A development OpenID Connect provider for the embedded default.

Production signs members in at the membership identity provider (`CONNECT_OIDC_*` for the portal,
`CONNECT_JWKS_URL` for the API).  Without `CONNECT_JWKS_URL` there is no such provider, so the
embedded app serves this stand-in under `/dev-oidc`: discovery, an authorize page that lists demo
members (clearly marked as development only), a token endpoint and the JWKS of the development
issuer.  The portal then runs the very same authorization-code + PKCE flow in both shapes.

It is deliberately small: one public client (the portal, PKCE required, redirect URI fixed to
`<CONNECT_PORTAL_URL>/auth/callback`), no consent, no refresh tokens.  Its issuer is the API's
public address (`CONNECT_API_URL`, else `CONNECT_PORTAL_URL`: one server in the embedded default).  Codes are short-lived
tokens signed with the development key, so any process of `connect serve --workers N` can redeem a
code another one issued; each process refuses a code it has redeemed before.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlencode

import jwt
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from connect.auth import MAX_NAME_CHARS, DevIssuer, InvalidToken, member_from_claims

PREFIX = "/dev-oidc"
CLIENT_ID = "connect-portal"
CODE_SECONDS = 120
SUPPORT_ACCOUNT_ID = "CS000001"
_MEMBER_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_TEMPLATES = Environment(loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
                         autoescape=select_autoescape(default=True))
# The page has no script; its styles are inline, nothing else may load and nobody may frame it.
_PAGE_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
                 "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
                 "Referrer-Policy": "no-referrer"}


@dataclass(frozen=True)
class DevAccount:
    """A member the development sign-in page offers (what the membership system would know)."""

    member_id: str
    name: str
    email: str
    roles: tuple[str, ...] = ()
    holds: tuple[str, ...] = field(default=())  # "mentor", "mentee": shown to help choose


class OidcError(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


class DevOidcProvider:
    def __init__(self, issuer: DevIssuer, public_url: str, portal_url: str, accounts: Callable[[], list[DevAccount]],
                 token_seconds: int) -> None:
        self.signer = issuer
        self.issuer_url = public_url.rstrip("/") + PREFIX
        self.redirect_uri = portal_url.rstrip("/") + "/auth/callback"
        self.accounts = accounts
        self.token_seconds = token_seconds
        self._redeemed: dict[str, float] = {}
        self._lock = threading.Lock()

    def discovery(self, asked_at: str) -> dict[str, Any]:
        """The browser goes to the public authorize endpoint; the portal's server-to-server calls
        (token, keys) go back to the address it fetched this document from, which may be an internal
        one (`http://api:8000` in docker-compose) where the public one does not resolve."""
        back_channel = asked_at.rstrip("/") + PREFIX
        return {
            "issuer": self.issuer_url,
            "authorization_endpoint": self.issuer_url + "/authorize",
            "token_endpoint": back_channel + "/token",
            "jwks_uri": back_channel + "/jwks",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": ["openid", "profile", "email"],
            "claims_supported": ["sub", "name", "email", "roles"],
        }

    def check_request(self, params: dict[str, str]) -> None:
        """What the authorize endpoint insists on before it shows or acts on anything."""
        if params.get("client_id") != CLIENT_ID:
            raise OidcError("unauthorized_client", "Unknown client_id.")
        if params.get("redirect_uri") != self.redirect_uri:
            raise OidcError("invalid_request", "redirect_uri is not the one registered for this client.")
        if params.get("response_type") != "code":
            raise OidcError("unsupported_response_type", "Only the authorization code flow is offered.")
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            raise OidcError("invalid_request", "PKCE with code_challenge_method=S256 is required.")
        if "openid" not in params.get("scope", "").split():
            raise OidcError("invalid_scope", "The openid scope is required.")

    def issue_code(self, params: dict[str, str], account: DevAccount) -> str:
        now = int(time.time())
        claims = {"typ": "dev-oidc-code", "jti": str(uuid.uuid4()), "iss": self.issuer_url, "aud": self.issuer_url,
                  "iat": now, "exp": now + CODE_SECONDS, "client_id": params["client_id"],
                  "redirect_uri": params["redirect_uri"], "code_challenge": params["code_challenge"],
                  "nonce": params.get("nonce") or None, "sub": account.member_id, "name": account.name,
                  "email": account.email, "roles": list(account.roles)}
        return jwt.encode(claims, self.signer.private_key, algorithm="ES256", headers={"kid": self.signer.kid})

    def redeem(self, form: dict[str, str]) -> dict[str, Any]:
        if form.get("grant_type") != "authorization_code":
            raise OidcError("unsupported_grant_type", "Only authorization_code is offered.")
        try:
            code = jwt.decode(form.get("code") or "", self.signer.private_key.public_key(), algorithms=["ES256"],
                              audience=self.issuer_url, issuer=self.issuer_url,
                              options={"require": ["exp", "jti", "sub"]})
        except jwt.PyJWTError as exc:
            raise OidcError("invalid_grant", "The code is invalid or has expired.") from exc
        if code.get("typ") != "dev-oidc-code" or form.get("client_id") != code["client_id"]:
            raise OidcError("invalid_grant", "The code was not issued to this client.")
        if form.get("redirect_uri") != code["redirect_uri"]:
            raise OidcError("invalid_grant", "redirect_uri differs from the authorization request.")
        if not hmac.compare_digest(s256(form.get("code_verifier") or ""), code["code_challenge"]):
            raise OidcError("invalid_grant", "code_verifier does not match the code_challenge.")
        self._redeem_once(code["jti"], float(code["exp"]))
        roles = list(code.get("roles") or [])
        access = self.signer.mint(code["sub"], code["name"], code["email"], roles=roles or None,
                                  ttl_seconds=self.token_seconds)
        now = int(time.time())
        id_claims = {"iss": self.issuer_url, "sub": code["sub"], "aud": CLIENT_ID, "iat": now,
                     "exp": now + self.token_seconds, "auth_time": int(code["iat"]), "name": code["name"],
                     "email": code["email"], "roles": roles}
        if code.get("nonce"):
            id_claims["nonce"] = code["nonce"]
        id_token = jwt.encode(id_claims, self.signer.private_key, algorithm="ES256", headers={"kid": self.signer.kid})
        return {"access_token": access, "token_type": "Bearer", "expires_in": self.token_seconds,
                "id_token": id_token, "scope": "openid profile email"}

    def _redeem_once(self, jti: str, expires: float) -> None:
        now = time.time()
        with self._lock:
            self._redeemed = {k: v for k, v in self._redeemed.items() if v > now}
            if jti in self._redeemed:
                raise OidcError("invalid_grant", "The code has been used already.")
            self._redeemed[jti] = expires

    def account_from_form(self, form: dict[str, str]) -> DevAccount:
        member_id = (form.get("member_id") or "").strip()
        known = {a.member_id: a for a in self.accounts()}
        if member_id in known and not form.get("name"):
            account = known[member_id]
        elif not _MEMBER_ID.match(member_id):
            raise OidcError("invalid_request", "A membership number is letters, digits, '.', '_' or '-'.")
        else:
            name = " ".join((form.get("name") or "").split())[:MAX_NAME_CHARS] or member_id
            email = (form.get("email") or "").strip() or f"{member_id.lower()}@example.org"
            account = DevAccount(member_id, name, email)
        # The API checks every token's claims (connect/auth.py); a name or email it refuses would
        # sign the member in to a portal whose every request is then refused.  Say so here instead.
        try:
            member_from_claims({"sub": account.member_id, "name": account.name, "email": account.email})
        except InvalidToken as exc:
            raise OidcError("invalid_request", "Connect would refuse these details: %s." % exc) from None
        return account


def router(provider_of: Callable[[Request], DevOidcProvider]) -> APIRouter:
    routes = APIRouter(prefix=PREFIX, include_in_schema=False)

    @routes.get("/.well-known/openid-configuration")
    def discovery(request: Request) -> JSONResponse:
        return JSONResponse(provider_of(request).discovery(str(request.base_url)))

    @routes.get("/jwks")
    def jwks(request: Request) -> JSONResponse:
        return JSONResponse(provider_of(request).signer.jwks())

    def page(request: Request, params: dict[str, str], error: str | None = None, status: int = 200) -> HTMLResponse:
        provider = provider_of(request)
        html = _TEMPLATES.get_template("dev_oidc_authorize.html").render(
            accounts=provider.accounts(), params=params, error=error,
            hidden={k: params[k] for k in ("client_id", "redirect_uri", "response_type", "scope", "state", "nonce",
                                           "code_challenge", "code_challenge_method") if params.get(k)})
        return HTMLResponse(html, status_code=status, headers=_PAGE_HEADERS)

    @routes.get("/authorize")
    def authorize_page(request: Request) -> HTMLResponse:
        params = dict(request.query_params)
        try:
            provider_of(request).check_request(params)
        except OidcError as exc:
            # Never redirect to an unchecked redirect_uri: say what is wrong on the page instead.
            return page(request, {}, f"{exc.error}: {exc.description}", status=400)
        return page(request, params)

    @routes.post("/authorize")
    async def authorize(request: Request) -> Any:
        provider = provider_of(request)
        form = {k: str(v) for k, v in (await request.form()).items()}
        try:
            provider.check_request(form)
        except OidcError as exc:
            return page(request, {}, f"{exc.error}: {exc.description}", status=400)
        try:
            account = provider.account_from_form(form)
        except OidcError as exc:
            return page(request, form, exc.description, status=400)
        query = {"code": provider.issue_code(form, account)}
        if form.get("state"):
            query["state"] = form["state"]
        return RedirectResponse(form["redirect_uri"] + "?" + urlencode(query), status_code=303,
                                headers={"Cache-Control": "no-store"})

    @routes.post("/token")
    async def token(request: Request) -> JSONResponse:
        form = {k: str(v) for k, v in (await request.form()).items()}
        try:
            body = provider_of(request).redeem(form)
        except OidcError as exc:
            return JSONResponse({"error": exc.error, "error_description": exc.description}, status_code=400,
                                headers={"Cache-Control": "no-store"})
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    return routes
