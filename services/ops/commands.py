"""`connect ops import-dashboards` and `connect run ops`.

Imported by every `connect` command: the service's modules are imported when a command runs.
"""

from __future__ import annotations

import threading
from pathlib import Path

import typer

ops_app = typer.Typer(help="Operations: the Kibana side of the distributed shape.", no_args_is_help=True)


def saved_objects_path() -> Path:
    from connect.settings import deploy_dir

    return deploy_dir() / "kibana" / "connect-dashboards.ndjson"


@ops_app.command("import-dashboards")
def import_dashboards(
    kibana_url: str = typer.Option(None, "--kibana-url", help="Kibana base URL (default CONNECT_KIBANA_URL)."),
    file: Path = typer.Option(None, "--file", help="Saved objects NDJSON (default deploy/kibana/)."),
) -> None:
    """Import the data view, visualisations and dashboard on connect-events-* into Kibana."""
    import httpx

    from connect.settings import Settings

    url = kibana_url or Settings().search.kibana_url
    if not url:
        typer.echo("no Kibana URL: pass --kibana-url or set CONNECT_KIBANA_URL", err=True)
        raise typer.Exit(2)
    path = file or saved_objects_path()
    try:
        response = httpx.post(
            f"{url.rstrip('/')}/api/saved_objects/_import", params={"overwrite": "true"},
            headers={"kbn-xsrf": "true"}, files={"file": (path.name, path.read_bytes(), "application/ndjson")},
            timeout=60.0,
        )
    except httpx.HTTPError as exc:
        typer.echo(f"could not reach Kibana at {url}: {exc}", err=True)
        raise typer.Exit(1) from None
    if response.status_code != 200:
        typer.echo(f"Kibana answered {response.status_code}: {response.text}", err=True)
        raise typer.Exit(1)
    result = response.json()
    if not result.get("success"):
        typer.echo(f"import failed: {result.get('errors')}", err=True)
        raise typer.Exit(1)
    typer.echo(f"imported {result.get('successCount', 0)} saved objects into {url}")


def run_ops() -> None:
    """Mirror every event into the connect-events-* indices for Kibana."""
    from connect.bootstrap import build_container
    from connect.cli import load_settings, wait_for_signal
    from services.ops.bootstrap import ops_consumer
    from services.ops.tasks import MirrorLoop

    settings = load_settings()
    spec = ops_consumer(settings)
    if spec is None:
        typer.echo("the ops mirror needs CONNECT_SEARCH_URL=opensearch+http://... or elasticsearch+http://...",
                   err=True)
        raise typer.Exit(2)
    container = build_container(settings)
    stop = threading.Event()
    loop = MirrorLoop(container.transport, spec.handler)  # type: ignore[arg-type]
    # The loop runs in a thread because signal handlers only run in the main thread.
    thread = threading.Thread(target=loop.run, args=(stop,), name=f"consumer-{spec.group_id}")
    thread.start()
    wait_for_signal(stop)
    thread.join(10.0)
    spec.handler.index.close()  # type: ignore[attr-defined]
    container.close()


def register(app: typer.Typer) -> None:
    from connect.cli import run_app

    app.add_typer(ops_app, name="ops")
    run_app.command("ops")(run_ops)
