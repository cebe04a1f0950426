"""What the notifier runs: its event consumer."""

from __future__ import annotations

from connect.bootstrap import ConsumerSpec
from schemas.events import MEMBERS_TOPIC, RELATIONSHIPS_TOPIC
from services.notifier.services import NotifierService

GROUP_ID = "notifier"
TOPICS = [MEMBERS_TOPIC, RELATIONSHIPS_TOPIC]


# Sending is I/O-bound (SMTP and database round trips): parallel lanes per key on the Kafka
# shape; one thread on the embedded shape, where SQLite serialises writers anyway.
PARALLEL_WORKERS = 8


def notifier_consumer(service: NotifierService, parallel: bool = False) -> ConsumerSpec:
    return ConsumerSpec(group_id=GROUP_ID, topics=list(TOPICS), handler=service.handle_record, role="notifier",
                        workers=PARALLEL_WORKERS if parallel else 1, batch_handler=service.handle_records)
