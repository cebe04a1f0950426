"""The distributed event path on real engines, piece by piece, for the fault tests and bench/events.py:
a producer's outbox in PostgreSQL -> OutboxRelay -> Kafka -> the notifier's consumer group -> SMTP.

Each piece can also run as its own process, so tests can SIGKILL it:
    python -m tests.integration.notifier.pipeline relay|notifier
configured by PIPELINE_DB_URL, PIPELINE_KAFKA, PIPELINE_SMTP_URL, PIPELINE_GROUP, PIPELINE_KEY_PREFIX,
PIPELINE_WORKERS, PIPELINE_LEDGER_GROUP.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import MetaData, Table, func, select

from connect.adapters.email_smtp import SmtpEmailSender
from connect.adapters.events_kafka import KafkaTransport
from connect.clock import SystemClock
from connect.db import Database
from connect.events import ConsumerLoop, Record
from connect.outbox import Outbox, OutboxRelay, outbox_table
from connect.settings import EventSettings
from schemas.events import EventData
from services.notifier.services import NotifierService
from services.notifier.tasks import PARALLEL_WORKERS, TOPICS, EmailNotifier

SOURCE = "pipesrc"  # the producing "service" whose outbox feeds the relay
NOTIFIER_MIGRATIONS = Path(__file__).resolve().parents[3] / "services" / "notifier" / "migrations"


def kafka(bootstrap: str, delivery_timeout_ms: int = 15000, session_timeout_ms: int = 6000) -> KafkaTransport:
    # The broker's minimum session timeout is 6 s: a SIGKILLed consumer's partitions move on after that.
    return KafkaTransport(EventSettings(kafka_bootstrap=bootstrap, kafka_delivery_timeout_ms=delivery_timeout_ms,
                                        kafka_session_timeout_ms=session_timeout_ms))


@dataclass
class Source:
    database: Database
    table: Table
    outbox: Outbox

    def emit(self, events: list[EventData]) -> list[str]:
        """Commit events to the outbox in one transaction (what a service's unit of work does)."""
        now = SystemClock().now()
        with self.database.session() as session, session.begin():
            return [str(self.outbox.add(session, event, now).event_id) for event in events]

    def relay(self, transport: KafkaTransport, batch_size: int = 500) -> OutboxRelay:
        return OutboxRelay(self.database, self.table, transport.publisher(), SystemClock(), batch_size=batch_size)

    def unsent(self) -> int:
        with self.database.session() as session:
            return session.execute(select(func.count()).select_from(self.table)
                                   .where(self.table.c.published_at.is_(None))).scalar_one()


def caught_up(src: Source, bootstrap: str, group_id: str, topics: list[str] = TOPICS) -> bool:
    """Nothing is left to happen: every emitted event was relayed, and the consumer group has
    committed past the last record of every partition of `topics` (a consumer commits only after
    its work, so every email it was going to send, duplicates included, has been sent)."""
    if src.unsent():
        return False
    from kafka import KafkaConsumer, TopicPartition

    # Configured with the group only to read its committed offsets: it never subscribes, so it
    # never joins the group or disturbs its members.
    reader = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for topic in topics for p in reader.partitions_for_topic(topic) or ()]
        ends = reader.end_offsets(partitions)
        return all((reader.committed(partition) or 0) >= end for partition, end in ends.items() if end > 0)
    finally:
        reader.close()


def end_offset(bootstrap: str, topic: str) -> int:
    """How many records `topic` holds in all (its partitions' end offsets added up)."""
    from kafka import KafkaConsumer, TopicPartition

    reader = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        partitions = [TopicPartition(topic, p) for p in reader.partitions_for_topic(topic) or ()]
        return sum(reader.end_offsets(partitions).values()) if partitions else 0
    finally:
        reader.close()


def source(db_url: str, create: bool = False) -> Source:
    database = Database(db_url, SOURCE)
    metadata = MetaData()
    table = outbox_table(metadata, SOURCE)
    if create:
        metadata.create_all(database.engine)
    return Source(database, table, Outbox(table, producer=SOURCE))


def notifier(db_url: str, smtp_url: str, migrate: bool = False, ledger_group: int = 1) -> NotifierService:
    database = Database(db_url, "notifier")
    if migrate:
        database.upgrade(NOTIFIER_MIGRATIONS)
    return NotifierService(database, SystemClock(), SmtpEmailSender(smtp_url, timeout=10), ledger_group=ledger_group)


def notifier_loop(transport: KafkaTransport, service: NotifierService, group_id: str,
                  backoff_seconds: float = 0.2, key_prefix: str = "", workers: int = 1) -> ConsumerLoop:
    """The notifier's consumer.  On a broker shared by many tests a new group reads every earlier
    test's events too; `key_prefix` makes it ignore records that are not this test's."""

    consumer = EmailNotifier(service)

    def handle(record: Record) -> None:
        if (record.key or "").startswith(key_prefix):
            consumer(record)

    def handle_batch(records: list[Record]) -> list[Record]:
        return consumer.batch([r for r in records if (r.key or "").startswith(key_prefix)])

    return ConsumerLoop(transport, group_id, TOPICS, handle, backoff_seconds=backoff_seconds, workers=workers,
                        batch_handler=handle_batch)


def _run_role(role: str) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    transport = kafka(os.environ["PIPELINE_KAFKA"])
    if role == "relay":
        relay = source(os.environ["PIPELINE_DB_URL"]).relay(transport)
        relay.run(stop, idle_seconds=0.05)
    elif role == "notifier":
        service = notifier(os.environ["PIPELINE_DB_URL"], os.environ["PIPELINE_SMTP_URL"],
                           ledger_group=int(os.environ.get("PIPELINE_LEDGER_GROUP", "1")))
        notifier_loop(transport, service, os.environ.get("PIPELINE_GROUP", "notifier"),
                      key_prefix=os.environ.get("PIPELINE_KEY_PREFIX", ""),
                      workers=int(os.environ.get("PIPELINE_WORKERS", PARALLEL_WORKERS))).run(stop, 0.2)
    else:
        raise SystemExit(f"unknown role {role!r}")
    transport.close()


if __name__ == "__main__":
    _run_role(sys.argv[1])
