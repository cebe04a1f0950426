from __future__ import annotations

from pathlib import Path

from connect.bootstrap import Container, ServiceModule
from services.notifier import api
from services.notifier.services import NotifierService
from services.notifier.tasks import notifier_consumer


def wire(container: Container) -> ServiceModule:
    database = container.database("notifier")
    facade = NotifierService(database, container.clock, container.email_sender,
                             sender=container.settings.email.mail_from, portal_url=container.settings.api.portal_url)
    return ServiceModule(
        name="notifier",
        database=database,
        migrations=Path(__file__).parent / "migrations",
        router=api.router,
        consumers=[notifier_consumer(facade, parallel=bool(container.settings.events.kafka_bootstrap))],
        facade=facade,
    )
