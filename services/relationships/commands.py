"""`connect sweep`: run the relationships timers once, as of a given instant."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Optional

import typer


def _parse_instant(value: str) -> datetime:
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO 8601 instant: {value!r}") from exc
    if instant.tzinfo is None:
        raise typer.BadParameter("give a time zone, e.g. 2026-12-24T09:00:00Z")
    return instant.astimezone(timezone.utc)


def register(app: typer.Typer) -> None:
    @app.command()
    def sweep(
        at: Optional[str] = typer.Option(None, "--at", help="ISO 8601 instant to run the timers as of "
                                                            "(default: now), e.g. 2026-12-24T09:00:00Z."),
        batch_size: int = typer.Option(500, help="Proposals locked and handled per transaction."),
    ) -> None:
        """Run every relationships timer due at an instant: reminders at 3/7/15 days, expiry at 21.

        Works against whichever shape the settings name; in the embedded shape it
        also relays the events and runs the consumers so the emails follow.
        """
        from connect.bootstrap import build_container, deliver_until_quiet
        from connect.cli import load_settings
        from connect.clock import MovableClock, SystemClock

        settings = load_settings()
        instant = _parse_instant(at) if at else None
        clock = MovableClock(instant) if instant else SystemClock()
        container = build_container(settings, clock=clock)
        try:
            if settings.embedded:
                container.upgrade_databases()
            report = container.service("relationships").send_due_reminders(instant, batch_size=batch_size)
            delivered = deliver_until_quiet(container) if settings.embedded else None
        finally:
            container.close()
        typer.echo(json.dumps({"at": (instant or clock.now()).isoformat().replace("+00:00", "Z"),
                               **report.as_dict(), "events_delivered": delivered}))
