"""What the ops service runs: the mirror's consumer loop (role `ops`).

Each polled batch is mirrored in one bulk request, records that are not events
are dead-lettered, and only then are offsets committed.
"""

from __future__ import annotations

import threading

from connect.events import ConsumerLoop, EventTransport
from schemas.events import EVENT_TYPES
from services.ops.services import EventMirror

GROUP_ID = "ops-mirror"
ROLE = "ops"


class MirrorLoop(ConsumerLoop):
    """The ops role's consumer loop: each polled batch is mirrored in one bulk request,
    records that are not events are dead-lettered, and only then are offsets committed.

    A failure (cluster down, bulk partly refused) drops the consumer, so the next poll
    resumes from the committed offsets and redoes the batch: documents are idempotent,
    and nothing is dead-lettered for an outage.
    """

    def __init__(self, transport: EventTransport, mirror: EventMirror) -> None:
        super().__init__(transport, GROUP_ID, all_topics(), mirror)
        self.mirror = mirror

    def run_once(self, timeout_seconds: float = 0.5, stop: threading.Event | None = None) -> int:
        consumer = self.consumer
        records = consumer.poll(timeout_seconds)
        if not records:
            return 0
        try:
            for record, reason in self.mirror.mirror_batch(records):
                self._dead_letter(record, reason)
            consumer.commit(records)
        except BaseException:
            self.close()
            raise
        return len(records)


def all_topics() -> list[str]:
    return sorted({cls.TOPIC for cls in EVENT_TYPES.values()})
