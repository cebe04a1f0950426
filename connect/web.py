"""The HTTP application: one FastAPI app mounting the routers of the services
it is asked to serve (all three in the embedded default, one per container in
the distributed shape), with health, readiness, metrics and problem+json."""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable, Iterable

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.routing import Match, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connect import problems
from connect.bootstrap import BackgroundRunner, Container

log = logging.getLogger(__name__)


class BodySizeLimit:
    """Refuses request bodies over the cap, declared or streamed, with 413 problem+json."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        # Bodies are small (capped), so read the whole body first: a streamed body
        # over the cap is refused before any handler has seen a byte of it.
        chunks: list[bytes] = []
        seen = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problems.problem_response(
            413, f"The request body is larger than {self.max_bytes} bytes.", type_="payload-too-large")
        await response(scope, receive, send)


class MethodsAllowed:
    """OPTIONS answers 204 with `Allow` naming every method the path takes, and a 405 names them
    all too (the router named only those of the first route matching the path).

    Plain ASGI, inside whatever CORS middleware may wrap the app: a CORS preflight is answered
    there, an OPTIONS without one reaches this."""

    METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

    def __init__(self, app: ASGIApp, router: Router) -> None:
        self.app = app
        self.router = router

    def allowed(self, scope: Scope) -> list[str]:
        def routed(method: str) -> bool:
            probe = {**scope, "method": method}
            return any(route.matches(probe)[0] == Match.FULL for route in self.router.routes)

        found = [method for method in (*self.METHODS, "OPTIONS") if routed(method)]
        return found + ["OPTIONS"] if found and "OPTIONS" not in found else found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            allowed = self.allowed(scope)
            if allowed and not any(route.matches(scope)[0] == Match.FULL for route in self.router.routes):
                await Response(status_code=204, headers={"Allow": ", ".join(allowed)})(scope, receive, send)
                return

        async def send_with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                headers.append((b"allow", ", ".join(self.allowed(scope)).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_allow)


class RequestMetrics:
    """Counts and times every HTTP request by route template.

    Plain ASGI: Starlette's `BaseHTTPMiddleware` (what `@app.middleware` builds) ran each request
    through an extra task and memory stream, a visible share of a search request's time."""

    def __init__(self, app: ASGIApp, requests: Counter, latency: Histogram) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before answering

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            # The router records the matched route in the scope; label by its template, not the
            # raw path, so ids do not explode the series count.
            template = getattr(scope.get("route"), "path", "unmatched")
            self.requests.labels(scope["method"], template, str(status)).inc()
            self.latency.labels(scope["method"], template).observe(time.perf_counter() - started)


def _metrics(app: FastAPI) -> None:
    registry = CollectorRegistry()
    requests = Counter("connect_http_requests_total", "HTTP requests", ["method", "route", "status"],
                       registry=registry)
    latency = Histogram("connect_http_request_seconds", "HTTP request latency", ["method", "route"],
                        registry=registry)
    app.state.metrics_registry = registry
    app.add_middleware(RequestMetrics, requests=requests, latency=latency)  # type: ignore[arg-type]

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def _dev_oidc(app: FastAPI, container: Container) -> None:
    """The development OpenID provider, only where the development issuer is trusted (no JWKS)."""
    from connect import dev_oidc

    settings = container.settings
    support = dev_oidc.DevAccount(dev_oidc.SUPPORT_ACCOUNT_ID, "Customer Service (demo)", "support@example.org",
                                  roles=("support",))
    app.state.dev_oidc = dev_oidc.DevOidcProvider(
        container.dev_issuer, settings.api.api_url or settings.api.portal_url,  # type: ignore[arg-type]
        settings.api.portal_url, lambda: container.dev_accounts() + [support], settings.auth.dev_token_ttl_seconds)
    app.include_router(dev_oidc.router(lambda request: request.app.state.dev_oidc))


class PortalBesideApi:
    """`connect serve`'s one site: the API's own paths (`/v1`, `/docs`, `/healthz`, `/dev-oidc`...)
    go to the API, every other path to the member portal.  Lifespan events go to the API, which
    owns the process's resources; the portal's in-process client holds no sockets."""

    #: The first path segments the API answers; the portal keeps clear of them.
    API_ROOTS = frozenset({"/v1", "/docs", "/redoc", "/openapi.json", "/healthz", "/readyz", "/metrics", "/dev-oidc"})

    def __init__(self, api: FastAPI, portal: ASGIApp) -> None:
        self.api = api
        self.portal = portal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.api(scope, receive, send)
            return
        root = "/" + scope.get("path", "/").split("/")[1]
        await (self.api if root in self.API_ROOTS else self.portal)(scope, receive, send)


def portal_session_secret(container: Container) -> str:
    """The embedded default's portal session secret: derived from the development issuer's key, so
    every process of `connect serve --workers N` shares it and it survives restarts."""
    import hashlib
    import hmac

    from cryptography.hazmat.primitives import serialization

    assert container.dev_issuer is not None
    key = container.dev_issuer.private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return hmac.new(key, b"connect-portal-session", hashlib.sha256).hexdigest()


def create_site(container: Container, *, background: bool = False, migrate: bool = False,
                ready_checks: dict[str, Callable[[], None]] | None = None) -> ASGIApp:
    """The API with the member portal at `/`, which calls the API in-process over HTTP semantics."""
    import httpx

    from portal.app import create_portal
    from portal.settings import PortalSettings

    api = create_app(container, background=background, migrate=migrate, ready_checks=ready_checks)
    overrides: dict[str, Any] = {}
    if not PortalSettings().portal_session_secret:
        if container.dev_issuer is None:
            raise ValueError("CONNECT_PORTAL_SESSION_SECRET is required when CONNECT_JWKS_URL is set")
        overrides["portal_session_secret"] = portal_session_secret(container)
    settings = PortalSettings(portal_url=container.settings.api.portal_url, **overrides)
    return PortalBesideApi(api, create_portal(settings, transport=httpx.ASGITransport(app=api)))


def create_app(container: Container, *, background: bool = False, migrate: bool = False,
               routers: Iterable[APIRouter] | None = None,
               ready_checks: dict[str, Callable[[], None]] | None = None) -> FastAPI:
    """`background` runs relays, consumers and the sweep in this process (embedded shape);
    `migrate` applies each service's migrations on start (embedded shape); `ready_checks` adds
    checks of the serving process itself to `/readyz` (e.g. `api.workers`)."""

    runner = BackgroundRunner(container)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = container.settings.api.request_threads
        if migrate:
            container.upgrade_databases()
        if background:
            runner.start()
        try:
            yield
        finally:
            runner.stop()
            container.close()

    app = FastAPI(
        title="Connect API",
        version="1",
        description="Mentoring platform for the members of a professional body. "
                    "Every /v1 call needs `Authorization: Bearer <token>`; errors are application/problem+json.",
        lifespan=lifespan,
    )
    app.state.container = container
    problems.install(app)
    _metrics(app)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    def readyz() -> JSONResponse:
        results: dict[str, str] = {}
        ok = True
        for name, check in {**container.ready_checks(), **(ready_checks or {})}.items():
            try:
                check()
                results[name] = "ok"
            except Exception as exc:  # report every failing dependency, not only the first
                ok = False
                results[name] = f"error: {exc}"
        return JSONResponse({"status": "ok" if ok else "unavailable", "checks": results},
                            status_code=200 if ok else 503)

    for router in routers if routers is not None else (m.router for m in container.services.values()):
        if router is not None:
            app.include_router(router)
    if container.dev_issuer is not None:
        _dev_oidc(app, container)
    app.add_middleware(MethodsAllowed, router=app.router)  # type: ignore[arg-type]
    app.add_middleware(BodySizeLimit, max_bytes=container.settings.api.max_body_bytes)  # type: ignore[arg-type]
    return app
