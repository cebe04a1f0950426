"""`connect reindex` and `connect seed-demo`: the matching service's operator commands."""

from __future__ import annotations

import typer


def _matching_container():  # type: ignore[no-untyped-def]
    from connect import logs
    from connect.bootstrap import build_container
    from connect.settings import Settings

    settings = Settings()
    logs.configure(settings.api.log_level, settings.api.log_json)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return build_container(settings, services=("matching",))


def _progress():  # type: ignore[no-untyped-def]
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())


def reindex_with_progress(service) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    total = service.count_mentors()
    with _progress() as progress:
        task = progress.add_task("indexing mentors", total=total)
        return service.reindex(progress=lambda n: progress.advance(task, n))


def register(app: typer.Typer) -> None:
    @app.command()
    def reindex() -> None:
        """Build a new mentor index from the database, then swap the alias to it (no downtime)."""
        container = _matching_container()
        try:
            module = container.services["matching"]
            module.database.upgrade(module.migrations)
            name, listed = reindex_with_progress(module.facade)
            typer.echo(f"index {name} is live with {listed} listed mentors")
        finally:
            container.close()

    @app.command("seed-demo")
    def seed_demo(
        mentors: int = typer.Option(200, "--mentors", min=0, max=200_000, help="Mentors to create."),
        mentees: int = typer.Option(50, "--mentees", min=0, max=200_000, help="Mentee-only members to create."),
        if_empty: bool = typer.Option(False, "--if-empty", help="Do nothing when mentors already exist."),
        seed: int = typer.Option(7, help="Random seed: the same seed gives the same members."),
    ) -> None:
        """Fill the running shape with realistic fake members so a first search returns something."""
        from itertools import islice

        from services.matching.demo import fake_members

        container = _matching_container()
        try:
            module = container.services["matching"]
            module.database.upgrade(module.migrations)
            service = module.facade
            if if_empty and service.count_mentors() > 0:
                typer.echo("mentors already exist; nothing seeded")
                return
            members = fake_members(mentors, mentees, seed=seed)
            created = 0
            with _progress() as progress:
                task = progress.add_task("creating members", total=mentors + mentees)
                while batch := list(islice(members, 500)):
                    created += service.import_members(
                        (m.member_id, m.name, m.email, m.mentor, m.mentee) for m in batch)
                    progress.advance(task, len(batch))
            typer.echo(f"created {created} members")
            # The events are in the outbox for every consumer; rebuilding now makes the
            # first search work before the indexer has caught up.
            name, listed = reindex_with_progress(service)
            typer.echo(f"index {name} is live with {listed} listed mentors")
        finally:
            container.close()
