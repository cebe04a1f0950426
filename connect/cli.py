"""`connect`: the one command for every shape and role.

Each service may add its own commands in `services/<name>/commands.py`
(a `register(app)` function); this module holds the platform's.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from importlib import import_module
from typing import Optional

import typer

from connect.settings import SERVICES, Settings

app = typer.Typer(help="Connect — mentoring platform.", no_args_is_help=True, pretty_exceptions_show_locals=False)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
run_app = typer.Typer(help="Run one role of the distributed shape.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(run_app, name="run")

log = logging.getLogger("connect.cli")


def load_settings() -> Settings:
    """The settings from the environment, with logging set up as they say (every command's first step)."""
    from connect import logs

    settings = Settings()
    logs.configure(settings.api.log_level, settings.api.log_json)
    return settings


#: The roles that search or index: the others (which never embed text) leave matching's
#: embedding model unloaded until a job asks for it, starting quicker and smaller.
MODEL_ROLES = frozenset({"api", "indexer"})


def _container(settings: Settings, services: tuple[str, ...] = SERVICES, *,  # type: ignore[no-untyped-def]
               load_models: bool = True):
    from connect.bootstrap import build_container

    return build_container(settings, services=services, load_models=load_models)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, help="API processes on the port; the first also runs relays, "
                                               "consumers and the sweep (see connect/workers.py)."),
) -> None:
    """Run the embedded default: the whole platform in one process (API, portal, relays, consumers, sweep)."""
    import errno
    import os

    from connect.http_server import serve as serve_http
    from connect.web import create_site
    from connect.workers import bind

    # Take the port before anything else: a port in use is one line, not a log entry after the
    # migrations and the index have been opened for nothing.
    try:
        listener = bind(host, port, shared=False)
    except OSError as exc:
        reason = {errno.EADDRINUSE: "is already in use", errno.EACCES: "needs more privileges",
                  errno.EADDRNOTAVAIL: "is not an address of this machine"}.get(exc.errno, f"cannot be used ({exc.strerror})")
        typer.echo(f"connect serve: {host}:{port} {reason}; choose another with --port "
                   "(make serve PORT=...) or stop what listens there.", err=True)
        raise typer.Exit(1) from None
    # Members use the portal at this server's own address unless told otherwise (emails link to it).
    os.environ.setdefault("CONNECT_PORTAL_URL", f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}")
    settings = load_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    container = _container(settings)
    if workers > 1:
        from connect.workers import serve_workers

        listener.close()  # the processes share the port through sockets of their own
        serve_workers(container, host, port, workers)
        return
    web = create_site(container, background=True, migrate=True)
    log.info("serving Connect on http://%s:%s (state in %s)", host, port, settings.var_dir.resolve())
    serve_http(web, max_head_bytes=settings.api.max_header_bytes, sockets=[listener])


@app.command()
def token(
    member_id: str = typer.Argument(..., help="Membership number (the `sub` claim)."),
    name: str = typer.Option(..., "--name", help="Display name."),
    email: str = typer.Option(..., "--email", help="Email address."),
    role: list[str] = typer.Option([], "--role", help="Extra role claim, e.g. support."),
    ttl: int = typer.Option(0, help="Lifetime in seconds (default from settings)."),
) -> None:
    """Print a development token that the local server accepts."""
    from connect.auth import DevIssuer

    settings = Settings()
    if settings.auth.jwks_url:
        typer.echo("CONNECT_JWKS_URL is set: tokens come from the identity provider, not from here.", err=True)
        raise typer.Exit(2)
    issuer = DevIssuer(settings.var_dir / "dev-issuer", settings.auth)
    typer.echo(issuer.mint(member_id, name, email, roles=role or None, ttl_seconds=ttl or None))


@db_app.command("upgrade")
def db_upgrade(
    service: Optional[list[str]] = typer.Option(None, "--service", help="Only these services (default all)."),
) -> None:
    """Apply every service's migrations (the distributed shape runs this before starting roles)."""
    settings = load_settings()
    container = _container(settings, tuple(service) if service else SERVICES)
    container.upgrade_databases()
    typer.echo("migrations applied: " + ", ".join(container.services))


def wait_for_signal(stop: threading.Event) -> None:
    def handle(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    while not stop.is_set():
        stop.wait(0.5)


@run_app.command("api")
def run_api(
    service: list[str] = typer.Option(list(SERVICES), "--service", help="Services whose routers to serve."),
    host: str = typer.Option("0.0.0.0", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
) -> None:
    """Serve the HTTP API of the named services (no background work; other roles do that)."""
    from connect.http_server import serve as serve_http
    from connect.web import create_app

    settings = load_settings()
    container = _container(settings, tuple(service))
    serve_http(create_app(container), max_head_bytes=settings.api.max_header_bytes, host=host, port=port)


@run_app.command("portal")
def run_portal(
    host: str = typer.Option("0.0.0.0", help="Interface to listen on."),
    port: int = typer.Option(8080, help="Port to listen on."),
) -> None:
    """Serve the member portal alone: a client of the API at CONNECT_API_URL (distributed shape)."""
    from connect.http_server import serve as serve_http
    from portal.app import create_portal

    settings = load_settings()  # logging as every role configures it; the same bound on request heads
    serve_http(create_portal(), max_head_bytes=settings.api.max_header_bytes, host=host, port=port)


@run_app.command("relay")
def run_relay(
    service: list[str] = typer.Option(list(SERVICES), "--service", help="Whose outboxes to relay."),
) -> None:
    """Move committed outbox rows to the event transport (Kafka when configured)."""
    from connect.bootstrap import BackgroundRunner

    container = _container(load_settings(), tuple(service), load_models=False)
    runner = BackgroundRunner(container)
    runner.start(relays=True, consumer_roles=set(), jobs=False)
    wait_for_signal(runner.stop_event)
    runner.stop()
    container.close()


def _run_consumers(role: str) -> None:
    from connect.bootstrap import BackgroundRunner

    container = _container(load_settings(), load_models=role in MODEL_ROLES)
    if not container.consumers({role}):
        typer.echo(f"no consumers have the role {role!r}", err=True)
        raise typer.Exit(2)
    runner = BackgroundRunner(container)
    runner.start(relays=False, consumer_roles={role}, jobs=False)
    wait_for_signal(runner.stop_event)
    runner.stop()
    container.close()


@run_app.command("notifier")
def run_notifier() -> None:
    """Consume events and send the emails they call for."""
    _run_consumers("notifier")


@run_app.command("indexer")
def run_indexer() -> None:
    """Keep the mentor search index in step with profile events."""
    _run_consumers("indexer")


@run_app.command("projector")
def run_projector() -> None:
    """Keep each service's local projections (member directory, availability) in step."""
    _run_consumers("projector")


@run_app.command("worker")
def run_worker(concurrency: int = typer.Option(2, help="Worker processes.")) -> None:
    """A Celery worker running periodic jobs such as the relationships sweep."""
    from connect.adapters.scheduler_celery import create_celery_app

    celery = create_celery_app(_container(load_settings(), load_models=False))
    celery.worker_main(["worker", "--loglevel=INFO", f"--concurrency={concurrency}", "--without-gossip"])


@run_app.command("beat")
def run_beat(schedule_dir: str = typer.Option("var", help="Where beat keeps its schedule file.")) -> None:
    """Celery beat: the one scheduler of the distributed shape (run exactly one)."""
    from pathlib import Path

    from connect.adapters.scheduler_celery import create_celery_app

    celery = create_celery_app(_container(load_settings(), load_models=False))
    Path(schedule_dir).mkdir(parents=True, exist_ok=True)
    celery.start(["beat", "--loglevel=INFO", f"--schedule={Path(schedule_dir) / 'celerybeat-schedule'}"])


ROLES = {
    "api": run_api, "portal": run_portal, "relay": run_relay, "notifier": run_notifier, "indexer": run_indexer,
    "projector": run_projector, "worker": run_worker, "beat": run_beat,
}


#: Commands outside the services every process builds: the ops role and the event contract.
OTHER_COMMANDS = ("services.ops.commands", "schemas.commands")


def _register_service_commands() -> None:
    for name in SERVICES:
        try:
            module = import_module(f"services.{name}.commands")
        except ModuleNotFoundError as exc:
            if exc.name != f"services.{name}.commands":
                raise
            continue
        module.register(app)
    for module_name in OTHER_COMMANDS:
        import_module(module_name).register(app)
    # The tooling's commands (`connect stack ...`, `connect run smtp-sink`), when it is there: a
    # checkout has it, the runtime image does not.
    try:
        tooling = import_module("stack.commands")
    except ModuleNotFoundError as exc:
        if exc.name not in ("stack", "stack.commands"):
            raise
    else:
        tooling.register(app, run_app)


_register_service_commands()


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
