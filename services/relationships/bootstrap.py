from __future__ import annotations

from pathlib import Path

from connect.bootstrap import Container, ServiceModule
from connect.outbox import OutboxRelay
from services.relationships import api
from services.relationships.adapters import orm
from services.relationships.services import RelationshipsService


def wire(container: Container) -> ServiceModule:
    database = container.database("relationships")
    facade = RelationshipsService(database, container.clock, after_commit=container.wake_relays)
    return ServiceModule(
        name="relationships",
        database=database,
        migrations=Path(__file__).parent / "migrations",
        router=api.router,
        relay=OutboxRelay(database, orm.outbox, container.transport.publisher(), container.clock),
        facade=facade,
    )
