"""`connect stack up|down|status|env` and `connect run smtp-sink`: the CLI side of `stack.local`.

Registered by `connect.cli` when this package is present (a checkout; the runtime image leaves
the tooling out). Importing this module imports no engine (stack.local names them only).
"""

from __future__ import annotations

import signal
from enum import Enum
from pathlib import Path

import typer

from stack.local import SEARCH_ENGINES

stack_app = typer.Typer(help="The distributed shape on this machine, with real engines.", no_args_is_help=True)

FOLDER_HELP = "The folder `stack up` ran in."


SearchEngine = Enum("SearchEngine", {name: name for name in SEARCH_ENGINES}, type=str)  # type: ignore[misc]


def _say(message: str) -> None:
    typer.echo(message, err=True)


@stack_app.command("up")
def up(
    folder: Path = typer.Option(Path("."), "--folder", help="Where the stack keeps its state (./var)."),
    api_timeout: float = typer.Option(90.0, help="Seconds to wait for the API's /readyz."),
    search: SearchEngine = typer.Option(SearchEngine[SEARCH_ENGINES[0]], "--search",
                                        help="The search cluster to run (the distributed default is Elasticsearch)."),
) -> None:
    """Start engines and every role; print `export CONNECT_...` lines once all are ready."""
    from stack import local

    paths = local.StackPaths(folder)

    def interrupted(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt("stack up was terminated")

    # A terminated `stack up` cleans up like an interrupted one.
    signal.signal(signal.SIGTERM, interrupted)
    try:
        settings = local.up(paths, api_timeout, _say, search.value)
    except (Exception, KeyboardInterrupt) as exc:  # whatever failed or was interrupted, leave nothing behind
        _say(f"stack up failed: {exc!r}" if isinstance(exc, KeyboardInterrupt) else f"stack up failed: {exc}")
        for name, outcome in local.down(paths):
            _say(f"  {name}: {outcome}")
        raise typer.Exit(1) from None
    typer.echo(local.exports(settings))


@stack_app.command("down")
def down(folder: Path = typer.Option(Path("."), "--folder", help=FOLDER_HELP)) -> None:
    """Stop everything `stack up` started (roles first, then engines)."""
    from stack import local

    for name, outcome in local.down(local.StackPaths(folder)):
        typer.echo(f"{name}: {outcome}")


@stack_app.command("status")
def status(folder: Path = typer.Option(Path("."), "--folder", help=FOLDER_HELP)) -> None:
    """One line per engine and role: running (with its pid) or not; exit 1 if any part is down."""
    from stack import local, roles

    state = local.read_state(local.StackPaths(folder))
    if not state.get("processes") and not state.get("engines"):
        typer.echo("no stack runs from here", err=True)
        raise typer.Exit(1)
    healthy = True
    for name, data_dir in state.get("engines", {}).items():
        engine = local.attach_engine(name, data_dir)
        healthy &= engine is not None
        typer.echo(f"{name}: " + (f"running (pid {engine.pid}) at {engine.url}" if engine else "not running"))
    for role, entry in state.get("processes", {}).items():
        alive = roles.alive(entry)
        healthy &= alive
        typer.echo(f"{role}: " + (f"running (pid {entry['pid']})" if alive else f"not running, see {entry['log']}"))
    if not healthy:
        raise typer.Exit(1)


@stack_app.command("env")
def env(folder: Path = typer.Option(Path("."), "--folder", help=FOLDER_HELP)) -> None:
    """Print the running stack's `export CONNECT_...` lines again."""
    from stack import local

    settings = local.read_state(local.StackPaths(folder)).get("settings")
    if not settings:
        typer.echo("no stack runs from here", err=True)
        raise typer.Exit(1)
    typer.echo(local.exports(settings))


def run_smtp_sink(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(1025, help="Port to listen on."),
    mail_dir: Path = typer.Option(Path("var/mail"), "--mail-dir", help="Where each message is saved."),
) -> None:
    """A local SMTP server that saves every message it accepts as an .eml file."""
    from stack.engines.smtp import serve

    typer.echo(f"SMTP sink on {host}:{port} saving to {mail_dir}", err=True)
    serve(host, port, mail_dir)


def register(app: typer.Typer, run_app: typer.Typer) -> None:
    app.add_typer(stack_app, name="stack")
    run_app.command("smtp-sink")(run_smtp_sink)
