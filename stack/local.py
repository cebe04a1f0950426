"""The distributed shape on one machine: what `connect stack up` / `down` / `status` do.

Run in a folder, `up` starts real engines with the launchers of `stack.engines` in detached mode
(PostgreSQL, Redis, Kafka, Elasticsearch or, on request, OpenSearch; state under ./var/stack), an
SMTP sink that keeps every
message as an .eml file under ./var/mail, applies the migrations, then starts every role of the
distributed shape as its own detached process (API, relay, consumers, Celery worker and beat).
It returns once the API answers /readyz, with the `CONNECT_*` settings; with them exported,
`connect token`, `connect sweep` and the other commands act on the stack (same var dir, so the
same development issuer key as the API).

Everything started is recorded in ./var/stack/state.json as it starts, so `down` can stop it
even after a failed or interrupted `up`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from connect.settings import SERVICES
from stack import roles
from stack.engines import engine_class
from stack.engines.base import Engine, free_port
from stack.roles import StackError

STATE_NAME = "state.json"
# The search cluster of the distributed shape: Elasticsearch, or OpenSearch when asked for.
SEARCH_ENGINES = ("elasticsearch", "opensearch")
# Every engine a stack may run, in the order `stack up` starts them; `stack down` stops in reverse.
ALL_ENGINES = ("postgres", "redis", "kafka", *SEARCH_ENGINES)
# What a stack's engines get beyond a test's: kept data, and room to start on a busy machine.
ENGINE_OPTIONS: dict[str, dict[str, Any]] = {
    "redis": {"persist": True},
    # Two cores and several JVMs: a small heap is plenty for a local stack.
    "elasticsearch": {"heap": "512m", "cluster_name": "connect-stack", "startup_timeout": 180},
    "opensearch": {"heap": "512m", "cluster_name": "connect-stack", "startup_timeout": 180},
    "kafka": {"startup_timeout": 180},
}
ROLE_ORDER = ("smtp-sink", "api", "portal", "relay", "notifier", "indexer", "projector", "ops", "worker", "beat")
# Roles that only consume: started only when some service wires a consumer with that role.
CONSUMER_ROLES = ("notifier", "indexer", "projector")


class StackPaths:
    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()
        self.var = self.folder / "var"
        self.stack = self.var / "stack"
        self.mail = self.var / "mail"
        self.logs = self.stack / "logs"
        self.state = self.stack / STATE_NAME

    def engine_dir(self, name: str) -> Path:
        return self.stack / name


def read_state(paths: StackPaths) -> dict[str, Any]:
    try:
        return json.loads(paths.state.read_text())
    except FileNotFoundError:
        return {"engines": {}, "processes": {}, "settings": {}}


def _write_state(paths: StackPaths, state: dict[str, Any]) -> None:
    paths.stack.mkdir(parents=True, exist_ok=True)
    tmp = paths.state.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(paths.state)


# --- engines ----------------------------------------------------------------------


def _start_engine(name: str, paths: StackPaths) -> str:
    """Start (or find running) one engine; its URL."""
    data_dir = paths.engine_dir(name)
    cls = engine_class(name)
    running = cls.attach(data_dir)
    if running is not None:
        return running.url
    return cls(data_dir, detached=True, **ENGINE_OPTIONS.get(name, {})).start().url


def attach_engine(name: str, data_dir: str) -> Engine | None:
    return engine_class(name).attach(data_dir)


def _ensure_databases(admin_url: str) -> dict[str, str]:
    """One database per service on the stack's server (as in docker-compose.yml)."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    from stack.engines.postgres import database_url

    libpq = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True, connect_timeout=10) as conn:
        for service in SERVICES:
            if not conn.execute("select 1 from pg_database where datname = %s", (service,)).fetchone():
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(service)))
    return {service: database_url(admin_url, service) for service in SERVICES}


# --- settings ---------------------------------------------------------------------


def engines_for(search: str) -> tuple[str, ...]:
    """The engines of a stack whose search cluster is ``search``, in start order."""
    if search not in SEARCH_ENGINES:
        raise StackError(f"no search engine {search!r}: one of {', '.join(SEARCH_ENGINES)}")
    return ("postgres", "redis", "kafka", search)


def stack_settings(paths: StackPaths, urls: dict[str, str], databases: dict[str, str], smtp_port: int,
                   api_port: int, portal_port: int) -> dict[str, str]:
    """Every CONNECT_* setting of the stack: what each role gets and what `stack up` prints.
    ``urls`` has one search cluster, whose name is its ``CONNECT_SEARCH_URL`` scheme."""
    from connect.settings import all_setting_names

    api_url = f"http://127.0.0.1:{api_port}"
    settings = {
        "CONNECT_VAR_DIR": str(paths.var),
        "CONNECT_MAIL_DIR": str(paths.mail),
        "CONNECT_API_URL": api_url,
        # The member portal (`connect run portal`): emails link to it, sign-in returns to it.
        "CONNECT_PORTAL_URL": f"http://127.0.0.1:{portal_port}",
        # The fallback for a service without a URL of its own; each service has its own below.
        "CONNECT_DATABASE_URL": urls["postgres"],
        **{f"CONNECT_{service.upper()}_DATABASE_URL": url for service, url in databases.items()},
        "CONNECT_SEARCH_URL": next(f"{name}+{urls[name]}" for name in SEARCH_ENGINES if name in urls),
        "CONNECT_KAFKA_BOOTSTRAP": urls["kafka"],
        "CONNECT_CELERY_BROKER": urls["redis"],
        "CONNECT_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
    }
    # One API process serves every service here, so a service's HTTP port to another
    # (e.g. relationships asking matching) points at that same API.
    for service in SERVICES:
        name = f"CONNECT_{service.upper()}_URL"
        if name in all_setting_names():
            settings[name] = api_url
    return settings


def exports(settings: dict[str, str]) -> str:
    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in sorted(settings.items()))


def _consumer_roles(env: dict[str, str]) -> set[str]:
    """Roles some service wires a consumer for, read from the stack's own settings."""
    from connect.bootstrap import build_container
    from connect.settings import Settings, all_setting_names

    # Only settings: launcher variables such as CONNECT_ENGINES_CACHE share the prefix.
    overrides = {name[len("CONNECT_"):].lower(): value for name, value in env.items()
                 if name in all_setting_names()}
    container = build_container(Settings(**overrides))
    try:
        return {spec.role for spec in container.consumers()}
    finally:
        container.close()


# --- up and down ------------------------------------------------------------------


def up(paths: StackPaths, api_timeout: float, say: Callable[[str], None],
       search: str = "elasticsearch") -> dict[str, str]:
    """Start engines (``search`` the search cluster) and every role; the stack's settings once
    the API is ready."""
    engines = engines_for(search)
    state = read_state(paths)
    running = [role for role, entry in state["processes"].items() if roles.alive(entry)]
    if running:
        raise StackError(f"a stack already runs from {paths.folder} ({', '.join(running)}); "
                         "run `connect stack down` first")
    state = {"folder": str(paths.folder), "engines": {}, "processes": {}, "settings": {}}
    paths.mail.mkdir(parents=True, exist_ok=True)
    _write_state(paths, state)

    began = time.monotonic()
    say("starting engines: " + ", ".join(engines))
    urls: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=len(engines)) as pool:
        futures = {name: pool.submit(_start_engine, name, paths) for name in engines}
        errors = []
        for name, future in futures.items():
            try:
                urls[name] = future.result()
                state["engines"][name] = str(paths.engine_dir(name))
            except Exception as exc:  # collect every engine's failure, then give up
                errors.append(f"{name}: {exc}")
                # A half-started engine may still have left its state file behind.
                state["engines"][name] = str(paths.engine_dir(name))
        _write_state(paths, state)
        if errors:
            raise StackError("engines failed to start:\n" + "\n".join(errors))
    say("engines ready in %.0fs" % (time.monotonic() - began))

    databases = _ensure_databases(urls["postgres"])
    smtp_port, api_port, portal_port = free_port(), free_port(), free_port()
    settings = stack_settings(paths, urls, databases, smtp_port, api_port, portal_port)
    state["settings"] = settings
    _write_state(paths, state)
    env = {**os.environ, **settings}

    def start(role: str, args: list[str], extra_env: dict[str, str] | None = None) -> dict[str, Any]:
        entry = roles.spawn(role, args, {**env, **(extra_env or {})}, paths.folder, paths.logs)
        state["processes"][role] = entry
        _write_state(paths, state)
        return entry

    sink = start("smtp-sink", ["run", "smtp-sink", "--port", str(smtp_port), "--mail-dir", str(paths.mail)])
    roles.wait_port("127.0.0.1", smtp_port, sink, 30)

    migrate = subprocess.run(roles.connect_argv() + ["db", "upgrade"], cwd=str(paths.folder), env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    (paths.logs / "migrate.log").write_text(migrate.stdout)
    if migrate.returncode != 0:
        raise StackError(f"connect db upgrade failed:\n{migrate.stdout[-4000:]}")

    # Create the development issuer's key before any role reads it, so all share one.
    from connect.auth import DevIssuer
    from connect.settings import AuthSettings

    DevIssuer(paths.var / "dev-issuer", AuthSettings()).private_key

    api = start("api", ["run", "api", "--host", "127.0.0.1", "--port", str(api_port)])
    # The portal's session secret stays in its own environment: `stack up` prints settings, not secrets.
    portal = start("portal", ["run", "portal", "--host", "127.0.0.1", "--port", str(portal_port)],
                   {"CONNECT_PORTAL_SESSION_SECRET": secrets.token_urlsafe(32)})
    start("relay", ["run", "relay"])
    wired = _consumer_roles(env)
    for role in CONSUMER_ROLES:
        if role in wired:
            start(role, ["run", role])
        else:
            say(f"no service wires a {role!r} consumer yet: not started")
    start("ops", ["run", "ops"])
    start("worker", ["run", "worker", "--concurrency", "1"])
    start("beat", ["run", "beat", "--schedule-dir", str(paths.stack / "beat")])

    roles.wait_ready(settings["CONNECT_API_URL"], api, api_timeout)
    roles.wait_port("127.0.0.1", portal_port, portal, 30)
    dead = [role for role, entry in state["processes"].items() if not roles.alive(entry)]
    if dead:
        raise StackError("roles exited during startup: " + ", ".join(
            f"{role}\n{roles.tail(state['processes'][role]['log'])}" for role in dead))
    say("stack up in %.0fs; logs in %s" % (time.monotonic() - began, paths.logs))
    return settings


def down(paths: StackPaths) -> list[tuple[str, str]]:
    """Stop roles (reverse order), then engines; one (part, how it ended) per part."""
    state = read_state(paths)
    report: list[tuple[str, str]] = []
    processes = state.get("processes", {})
    for role in sorted(processes, key=lambda r: ROLE_ORDER.index(r) if r in ROLE_ORDER else -1, reverse=True):
        report.append((role, roles.stop(processes[role])))
    recorded = state.get("engines", {})
    # Every engine a stack may run, recorded or not: an interrupted `up` may not have noted one.
    for name in reversed(ALL_ENGINES):
        try:
            stopped = engine_class(name).stop_detached(recorded.get(name) or str(paths.engine_dir(name)))
        except Exception as exc:  # report and go on: stop as much as can be stopped
            report.append((name, f"could not stop: {exc}"))
            continue
        if name in recorded or stopped:
            report.append((name, "stopped" if stopped else "was not running"))
    with contextlib.suppress(FileNotFoundError):
        paths.state.unlink()
    return report
