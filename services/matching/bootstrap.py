from __future__ import annotations

from pathlib import Path

from connect.bootstrap import Container, ServiceModule
from connect.outbox import OutboxRelay
from services.matching import api
from services.matching.adapters import orm
from services.matching.services import MatchingService


def wire(container: Container) -> ServiceModule:
    database = container.database("matching")
    facade = MatchingService(database, container.clock, after_commit=container.wake_relays)
    container.authenticator.on_seen.append(facade.member_seen)
    return ServiceModule(
        name="matching",
        database=database,
        migrations=Path(__file__).parent / "migrations",
        router=api.router,
        relay=OutboxRelay(database, orm.outbox, container.transport.publisher(), container.clock),
        facade=facade,
    )
