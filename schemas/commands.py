"""`connect schemas generate|check`: the published event contract, next to the models it is made from."""

from __future__ import annotations

import typer

schemas_app = typer.Typer(help="The published event contract (JSON Schema + AsyncAPI).", no_args_is_help=True)


@schemas_app.command("generate")
def generate(update_baseline: bool = typer.Option(False, "--update-baseline",
                                                  help="Also make the result the compatibility baseline.")) -> None:
    """Rewrite schemas/generated/ from the pydantic models in schemas/events.py."""
    from schemas import generate as generator

    raise typer.Exit(generator.main(["--update-baseline"] if update_baseline else []))


@schemas_app.command("check")
def check() -> None:
    """Exit 1 when schemas/generated/ differs from the models."""
    from schemas import generate as generator

    raise typer.Exit(generator.main(["--check"]))


def register(app: typer.Typer) -> None:
    app.add_typer(schemas_app, name="schemas")
