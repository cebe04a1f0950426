"""`connect stack up` / `connect stack down`: the distributed shape on one machine.

Run in a folder, `stack up` starts real engines with the harness's launchers in
detached mode (PostgreSQL, Redis, Kafka, OpenSearch, state under ./var/stack),
an SMTP sink that keeps every message as an .eml file under ./var/mail, applies
the migrations, then starts every role of the distributed shape as its own
detached process (API, relay, consumers, Celery worker and beat).  It returns
once the API answers /readyz and prints `export CONNECT_...=...` lines; with
them exported, `connect token`, `connect sweep` and the other commands act on
the stack (same var dir, so the same development issuer key as the API).

Everything started is recorded in ./var/stack/state.json as it starts, so
`stack down` can stop it even after a failed or interrupted `stack up`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import typer

from connect.settings import SERVICES

stack_app = typer.Typer(help="The distributed shape on this machine, with real engines.", no_args_is_help=True)

STATE_NAME = "state.json"
# Order of `stack up`; `stack down` stops in reverse.
ENGINES = ("postgres", "redis", "kafka", "opensearch")
ROLE_ORDER = ("smtp-sink", "api", "portal", "relay", "notifier", "indexer", "projector", "ops", "worker", "beat")
# Roles that only consume: started only when some service wires a consumer with that role.
CONSUMER_ROLES = ("notifier", "indexer", "projector")


class StackError(RuntimeError):
    pass


# --- where things live ------------------------------------------------------------


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


def _read_state(paths: StackPaths) -> dict[str, Any]:
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


def _engine_class(name: str) -> Any:
    if name == "postgres":
        from connect.engines.postgres import PostgresEngine

        return PostgresEngine
    if name == "redis":
        from connect.engines.redis import RedisEngine

        return RedisEngine
    if name == "kafka":
        from connect.engines.kafka import KafkaEngine

        return KafkaEngine
    if name == "opensearch":
        from connect.engines.opensearch import OpenSearchEngine

        return OpenSearchEngine
    raise KeyError(name)


def _new_engine(name: str, data_dir: Path) -> Any:
    cls = _engine_class(name)
    if name == "redis":
        return cls(data_dir, detached=True, persist=True)
    if name == "opensearch":
        # Two cores and several JVMs: a small heap is plenty for a local stack.
        return cls(data_dir, detached=True, heap="512m", cluster_name="connect-stack", startup_timeout=180)
    if name == "kafka":
        return cls(data_dir, detached=True, startup_timeout=180)
    return cls(data_dir, detached=True)


def _start_engine(name: str, paths: StackPaths) -> str:
    """Start (or find running) one engine; its URL."""
    data_dir = paths.engine_dir(name)
    running = _engine_class(name).attach(data_dir)
    if running is not None:
        return running.url
    return _new_engine(name, data_dir).start().url


def _ensure_databases(admin_url: str) -> dict[str, str]:
    """One database per service on the stack's server (as in docker-compose.yml)."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    from connect.engines.postgres import database_url

    libpq = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True, connect_timeout=10) as conn:
        for service in SERVICES:
            if not conn.execute("select 1 from pg_database where datname = %s", (service,)).fetchone():
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(service)))
    return {service: database_url(admin_url, service) for service in SERVICES}


# --- role processes ---------------------------------------------------------------


def _connect_argv() -> list[str]:
    script = Path(sys.executable).parent / "connect"
    if script.is_file():
        return [str(script)]
    found = shutil.which("connect")
    return [found] if found else [sys.executable, "-c", "from connect.cli import main; main()"]


def _start_ticks(pid: int) -> int | None:
    from connect.engines.base import _process_start_ticks

    return _process_start_ticks(pid)


def _alive(entry: dict[str, Any]) -> bool:
    from connect.engines.base import pid_alive

    return pid_alive(int(entry["pid"]), entry.get("start_ticks"))


def _spawn(role: str, args: list[str], env: dict[str, str], paths: StackPaths) -> dict[str, Any]:
    paths.logs.mkdir(parents=True, exist_ok=True)
    log_path = paths.logs / f"{role}.log"
    argv = _connect_argv() + args
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            argv, cwd=str(paths.folder), env=env, stdin=subprocess.DEVNULL, stdout=log_file,
            stderr=subprocess.STDOUT, close_fds=True,
            # Own process group: `stack down` signals the role with its children (Celery's pool),
            # and a Ctrl-C in the terminal that ran `stack up` does not reach it.
            start_new_session=True,
        )
    return {"pid": process.pid, "start_ticks": _start_ticks(process.pid), "argv": argv, "log": str(log_path)}


def _tail(path: str, lines: int = 40) -> str:
    from connect.engines.base import tail_file

    return tail_file(Path(path), lines)


def _stop_process(entry: dict[str, Any], grace: float = 15.0) -> str:
    """SIGTERM the role's process group, then SIGKILL what is left; how it ended."""
    pid = int(entry["pid"])
    if not _alive(entry):
        return "was not running"
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _alive(entry) and not _group_alive(pid):
            return "stopped"
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    time.sleep(0.2)
    return "killed"


def _group_alive(pgid: int) -> bool:
    from connect.engines.base import process_stat

    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    # A group of zombies only waits to be reaped by init: nothing runs.
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = process_stat(proc.name)
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def _wait_port(host: str, port: int, entry: dict[str, Any], timeout: float) -> None:
    from connect.engines.base import port_open

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        if not _alive(entry):
            raise StackError(f"process exited before listening on {port}:\n{_tail(entry['log'])}")
        time.sleep(0.1)
    raise StackError(f"nothing listens on {host}:{port} after {timeout:.0f}s:\n{_tail(entry['log'])}")


def _wait_ready(api_url: str, entry: dict[str, Any], timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not _alive(entry):
            raise StackError(f"the API exited during startup:\n{_tail(entry['log'])}")
        try:
            response = httpx.get(f"{api_url}/readyz", timeout=5.0)
            if response.status_code == 200:
                return
            last = response.text
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.3)
    raise StackError(f"the API is not ready after {timeout:.0f}s: {last}\n{_tail(entry['log'])}")


# --- settings ---------------------------------------------------------------------


def stack_settings(paths: StackPaths, urls: dict[str, str], databases: dict[str, str], smtp_port: int,
                   api_port: int, portal_port: int) -> dict[str, str]:
    """Every CONNECT_* setting of the stack: what each role gets and what `stack up` prints."""
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
        "CONNECT_SEARCH_URL": f"opensearch+{urls['opensearch']}",
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


def _exports(settings: dict[str, str]) -> str:
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


# --- commands ---------------------------------------------------------------------


def _say(message: str) -> None:
    typer.echo(message, err=True)


def _up(paths: StackPaths, api_timeout: float) -> dict[str, str]:
    from connect.engines.base import free_port

    state = _read_state(paths)
    running = [role for role, entry in state["processes"].items() if _alive(entry)]
    if running:
        raise StackError(f"a stack already runs from {paths.folder} ({', '.join(running)}); "
                         "run `connect stack down` first")
    state = {"folder": str(paths.folder), "engines": {}, "processes": {}, "settings": {}}
    paths.mail.mkdir(parents=True, exist_ok=True)
    _write_state(paths, state)

    began = time.monotonic()
    _say("starting engines: " + ", ".join(ENGINES))
    urls: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=len(ENGINES)) as pool:
        futures = {name: pool.submit(_start_engine, name, paths) for name in ENGINES}
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
    _say("engines ready in %.0fs" % (time.monotonic() - began))

    databases = _ensure_databases(urls["postgres"])
    smtp_port, api_port, portal_port = free_port(), free_port(), free_port()
    settings = stack_settings(paths, urls, databases, smtp_port, api_port, portal_port)
    state["settings"] = settings
    _write_state(paths, state)
    env = {**os.environ, **settings}

    def start(role: str, args: list[str], extra_env: dict[str, str] | None = None) -> dict[str, Any]:
        entry = _spawn(role, args, {**env, **(extra_env or {})}, paths)
        state["processes"][role] = entry
        _write_state(paths, state)
        return entry

    sink = start("smtp-sink", ["run", "smtp-sink", "--port", str(smtp_port), "--mail-dir", str(paths.mail)])
    _wait_port("127.0.0.1", smtp_port, sink, 30)

    migrate = subprocess.run(_connect_argv() + ["db", "upgrade"], cwd=str(paths.folder), env=env,
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
            _say(f"no service wires a {role!r} consumer yet: not started")
    start("ops", ["run", "ops"])
    start("worker", ["run", "worker", "--concurrency", "1"])
    start("beat", ["run", "beat", "--schedule-dir", str(paths.stack / "beat")])

    _wait_ready(settings["CONNECT_API_URL"], api, api_timeout)
    _wait_port("127.0.0.1", portal_port, portal, 30)
    dead = [role for role, entry in state["processes"].items() if not _alive(entry)]
    if dead:
        raise StackError("roles exited during startup: " + ", ".join(
            f"{role}\n{_tail(state['processes'][role]['log'])}" for role in dead))
    _say("stack up in %.0fs; logs in %s" % (time.monotonic() - began, paths.logs))
    return settings


def _down(paths: StackPaths) -> list[tuple[str, str]]:
    state = _read_state(paths)
    report: list[tuple[str, str]] = []
    processes = state.get("processes", {})
    for role in sorted(processes, key=lambda r: ROLE_ORDER.index(r) if r in ROLE_ORDER else -1, reverse=True):
        report.append((role, _stop_process(processes[role])))
    for name in reversed(ENGINES):
        data_dir = state.get("engines", {}).get(name) or str(paths.engine_dir(name))
        try:
            stopped = _engine_class(name).stop_detached(data_dir)
        except Exception as exc:  # report and go on: stop as much as can be stopped
            report.append((name, f"could not stop: {exc}"))
            continue
        report.append((name, "stopped" if stopped else "was not running"))
    with contextlib.suppress(FileNotFoundError):
        paths.state.unlink()
    return report


@stack_app.command("up")
def up(
    folder: Path = typer.Option(Path("."), "--folder", help="Where the stack keeps its state (./var)."),
    api_timeout: float = typer.Option(90.0, help="Seconds to wait for the API's /readyz."),
) -> None:
    """Start engines and every role; print `export CONNECT_...` lines once all are ready."""
    paths = StackPaths(folder)

    def interrupted(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt("stack up was terminated")

    # A terminated `stack up` cleans up like an interrupted one.
    signal.signal(signal.SIGTERM, interrupted)
    try:
        settings = _up(paths, api_timeout)
    except (Exception, KeyboardInterrupt) as exc:  # whatever failed or was interrupted, leave nothing behind
        _say(f"stack up failed: {exc!r}" if isinstance(exc, KeyboardInterrupt) else f"stack up failed: {exc}")
        for name, outcome in _down(paths):
            _say(f"  {name}: {outcome}")
        raise typer.Exit(1) from None
    typer.echo(_exports(settings))


@stack_app.command("down")
def down(
    folder: Path = typer.Option(Path("."), "--folder", help="The folder `stack up` ran in."),
) -> None:
    """Stop everything `stack up` started (roles first, then engines)."""
    for name, outcome in _down(StackPaths(folder)):
        typer.echo(f"{name}: {outcome}")


@stack_app.command("status")
def status(
    folder: Path = typer.Option(Path("."), "--folder", help="The folder `stack up` ran in."),
) -> None:
    """One line per engine and role: running (with its pid) or not; exit 1 if any part is down."""
    state = _read_state(StackPaths(folder))
    if not state.get("processes") and not state.get("engines"):
        typer.echo("no stack runs from here", err=True)
        raise typer.Exit(1)
    healthy = True
    for name, data_dir in state.get("engines", {}).items():
        engine = _engine_class(name).attach(data_dir)
        healthy &= engine is not None
        typer.echo(f"{name}: " + (f"running (pid {engine.pid}) at {engine.url}" if engine else "not running"))
    for role, entry in state.get("processes", {}).items():
        alive = _alive(entry)
        healthy &= alive
        typer.echo(f"{role}: " + (f"running (pid {entry['pid']})" if alive else f"not running, see {entry['log']}"))
    if not healthy:
        raise typer.Exit(1)


@stack_app.command("env")
def env(
    folder: Path = typer.Option(Path("."), "--folder", help="The folder `stack up` ran in."),
) -> None:
    """Print the running stack's `export CONNECT_...` lines again."""
    settings = _read_state(StackPaths(folder)).get("settings")
    if not settings:
        typer.echo("no stack runs from here", err=True)
        raise typer.Exit(1)
    typer.echo(_exports(settings))


# --- the SMTP sink role -------------------------------------------------------------


class MaildirSink:
    """aiosmtpd handler: every accepted message becomes one .eml file in `folder`.

    Duplicates are kept (one file per SMTP transaction), so a test can count them.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
        tmp = self.folder / f".{name}.tmp"
        content = envelope.original_content or envelope.content
        tmp.write_bytes(content if isinstance(content, bytes) else content.encode())
        # Readers never see a half-written message.
        tmp.replace(self.folder / name)
        return "250 Message accepted for delivery"


def run_smtp_sink(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(1025, help="Port to listen on."),
    mail_dir: Path = typer.Option(Path("var/mail"), "--mail-dir", help="Where each message is saved."),
) -> None:
    """A local SMTP server that saves every message it accepts as an .eml file."""
    import threading

    from aiosmtpd.controller import Controller

    from connect.cli import wait_for_signal

    controller = Controller(MaildirSink(mail_dir), hostname=host, port=port)
    controller.start()
    typer.echo(f"SMTP sink on {host}:{port} saving to {mail_dir}", err=True)
    try:
        wait_for_signal(threading.Event())
    finally:
        controller.stop()


def register(app: typer.Typer) -> None:
    from connect.cli import run_app

    app.add_typer(stack_app, name="stack")
    run_app.command("smtp-sink")(run_smtp_sink)
