"""What the notifier runs outside a request: its event consumer.

* `notifier` (role notifier): `EmailNotifier` reads member and relationship
  events, keeps the recipients directory, and sends each (event, recipient)
  email once; a polled batch goes through its fast path (`batch`).
"""

from __future__ import annotations

import logging

from connect.events import PoisonMessage, Record, UnknownTypes, decode_event
from schemas.events import MEMBERS_TOPIC, RELATIONSHIPS_TOPIC, Envelope, EventData
from services.notifier.services import NotifierService

log = logging.getLogger(__name__)

GROUP_ID = "notifier"
TOPICS = [MEMBERS_TOPIC, RELATIONSHIPS_TOPIC]

# Sending is I/O-bound (SMTP and database round trips): parallel lanes per key on the Kafka
# shape; one thread on the embedded shape, where SQLite serialises writers anyway.
PARALLEL_WORKERS = 8


def decode(raw: bytes) -> tuple[Envelope, EventData]:
    """The envelope and its typed payload.  Every event on the notifier's topics may call for an
    email, so one it cannot read is dead-lettered (PoisonMessage), never skipped."""
    decoded = decode_event(raw, UnknownTypes.DEAD_LETTER)
    assert decoded is not None and decoded.event is not None  # DEAD_LETTER raises instead of skipping
    return decoded.envelope, decoded.event


class EmailNotifier:
    """Consumer of connect.members.v1 and connect.relationships.v1, called with each record, or
    with each polled batch (ConsumerLoop's `batch_handler`)."""

    def __init__(self, service: NotifierService) -> None:
        self.service = service

    def __call__(self, record: Record) -> None:
        envelope, event = decode(record.value)
        self.service.handle(envelope, event)

    def batch(self, records: list[Record]) -> list[Record]:
        """The fast path: the service handles the readable records as one batch.  Returns the
        records left for the one-record path: an unreadable or failed one and every later one of
        its key (order within a key is kept)."""
        decoded: list[tuple[Record, tuple[Envelope, EventData] | None]] = []
        for record in records:
            try:
                decoded.append((record, decode(record.value)))
            except PoisonMessage:
                decoded.append((record, None))  # the one-record path dead-letters it
        undone: list[Record] = []
        blocked: set[tuple[str, int, str | None]] = set()
        with self.service.batch([item for _, item in decoded if item is not None]) as batch:
            for record, item in decoded:
                lane = (record.topic, record.partition, record.key)
                if item is None or lane in blocked:
                    undone.append(record)
                    blocked.add(lane)
                    continue
                try:
                    batch.handle(*item)
                except Exception as exc:
                    log.info("event %s: left for the one-by-one path: %r", item[0].event_id, exc)
                    undone.append(record)
                    blocked.add(lane)
        return undone
