from __future__ import annotations

from pathlib import Path

from connect.bootstrap import ConsumerSpec, Container, ServiceModule
from services.notifier import api
from services.notifier.services import NotifierService
from services.notifier.tasks import FEED_GROUP_ID, GROUP_ID, PARALLEL_WORKERS, TOPICS, EmailNotifier, FeedProjector


def wire(container: Container) -> ServiceModule:
    database = container.database("notifier")
    facade = NotifierService(database, container.clock, container.email_sender,
                             sender=container.settings.email.mail_from, portal_url=container.settings.api.portal_url,
                             support_address=container.settings.email.support_address)
    notifier = EmailNotifier(facade)
    projector = FeedProjector(facade.feed)
    parallel = bool(container.settings.events.kafka_bootstrap)
    return ServiceModule(
        name="notifier",
        database=database,
        migrations=Path(__file__).parent / "migrations",
        router=api.router,
        consumers=[ConsumerSpec(GROUP_ID, list(TOPICS), notifier, role="notifier",
                                workers=PARALLEL_WORKERS if parallel else 1, batch_handler=notifier.batch),
                   ConsumerSpec(FEED_GROUP_ID, list(TOPICS), projector, role="notifier",
                                batch_handler=projector.batch)],
        facade=facade,
    )
