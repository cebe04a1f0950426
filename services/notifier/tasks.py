"""What the notifier runs: its two event consumers, the emails and the notification feed."""

from __future__ import annotations

import logging

from connect.bootstrap import ConsumerSpec
from connect.events import PoisonMessage, Record
from schemas.events import MEMBERS_TOPIC, RELATIONSHIPS_TOPIC, Envelope, EventData
from services.notifier.services import NotificationFeed, NotifierService, decode

log = logging.getLogger(__name__)

GROUP_ID = "notifier"
TOPICS = [MEMBERS_TOPIC, RELATIONSHIPS_TOPIC]
# The feed reads the same events in a group of its own: a mail server that is down or refusing
# holds up the emails, never the portal's feed.
FEED_GROUP_ID = "notifier-feed"


# Sending is I/O-bound (SMTP and database round trips): parallel lanes per key on the Kafka
# shape; one thread on the embedded shape, where SQLite serialises writers anyway.
PARALLEL_WORKERS = 8


def notifier_consumer(service: NotifierService, parallel: bool = False) -> ConsumerSpec:
    return ConsumerSpec(group_id=GROUP_ID, topics=list(TOPICS), handler=service.handle_record, role="notifier",
                        workers=PARALLEL_WORKERS if parallel else 1, batch_handler=service.handle_records)


class FeedProjector:
    """Writes what each event tells whom into the members' feeds.  Decodes as the email consumer
    does (an unreadable event is dead-lettered: it may have called for an entry); a redelivered
    event adds nothing (one entry per member and event)."""

    def __init__(self, feed: NotificationFeed) -> None:
        self.feed = feed

    def __call__(self, record: Record) -> None:
        self.feed.project([decode(record.value)])

    def batch(self, records: list[Record]) -> list[Record]:
        """A polled batch in one transaction; from the first unreadable record on, the rest is left
        to the one-record path (which dead-letters it), in order."""
        items: list[tuple[Envelope, EventData]] = []
        for index, record in enumerate(records):
            try:
                items.append(decode(record.value))
            except PoisonMessage:
                self.feed.project(items)
                return records[index:]
        self.feed.project(items)
        return []

    def spec(self) -> ConsumerSpec:
        return ConsumerSpec(group_id=FEED_GROUP_ID, topics=list(TOPICS), handler=self, role="notifier",
                            batch_handler=self.batch)
