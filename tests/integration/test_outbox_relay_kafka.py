"""The outbox relay against real PostgreSQL and Kafka: a relay that crashes mid-batch (after the
broker took part of it, or all of it, but before the rows were marked sent) and two relays racing
on one outbox lose nothing and never reorder a key's events; duplicates keep their event_id."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import defaultdict

from sqlalchemy import MetaData

from connect.adapters.events_kafka import KafkaTransport
from connect.clock import SystemClock
from connect.db import Database
from connect.events import OutgoingMessage
from connect.outbox import Outbox, OutboxRelay, outbox_table
from connect.settings import EventSettings
from schemas.events import RELATIONSHIPS_TOPIC, Envelope, ProposalEdited


class Crash(Exception):
    pass


class CrashingPublisher:
    """The real Kafka publisher, killed at chosen points: after handing the broker part of a batch,
    or after the broker acknowledged all of it but before the relay could mark the rows."""

    def __init__(self, inner, rng: random.Random, crash_rate: float) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.rng, self.crash_rate = inner, rng, crash_rate
        self.crashes = 0

    def publish(self, messages: list[OutgoingMessage]) -> None:
        if self.rng.random() < self.crash_rate:
            self.crashes += 1
            self.inner.publish(messages[: self.rng.randint(0, len(messages))])
            raise Crash("relay died mid-batch")
        self.inner.publish(messages)


def test_relay_crashes_and_races_lose_and_reorder_nothing(pg_database, kafka_bootstrap):
    database = Database(pg_database, "relaytest")
    metadata = MetaData()
    table = outbox_table(metadata, "relaytest")
    metadata.create_all(database.engine)
    outbox = Outbox(table, producer="relaytest")
    clock = SystemClock()
    run = uuid.uuid4().hex[:8]
    keys = [f"rel-{run}-{i}" for i in range(6)]
    per_key = 60

    committed: dict[str, list[str]] = defaultdict(list)
    for version in range(1, per_key + 1):
        with database.session() as session, session.begin():
            for key in keys:
                envelope = outbox.add(session, ProposalEdited(relationship_id=key, mentor_id="A", mentee_id="B",
                                                              proposal_version=version), clock.now())
                committed[key].append(str(envelope.event_id))

    transport = KafkaTransport(EventSettings(kafka_bootstrap=kafka_bootstrap))
    rng = random.Random(5)
    publishers: list[CrashingPublisher] = []

    def relay_until_drained(stop: threading.Event) -> None:
        while not stop.is_set():
            # Every crash "restarts" the relay: a new relay object with a new producer.
            publisher = CrashingPublisher(transport.publisher(), rng, crash_rate=0.3)
            publishers.append(publisher)
            relay = OutboxRelay(database, table, publisher, clock, batch_size=25)
            try:
                while relay.relay_once() or relay.pending():
                    time.sleep(0.001)
                return
            except Crash:
                continue

    stop = threading.Event()
    racers = [threading.Thread(target=relay_until_drained, args=(stop,)) for _ in range(2)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(120)
    stop.set()
    assert sum(p.crashes for p in publishers) >= 3
    assert OutboxRelay(database, table, transport.publisher(), clock).pending() == 0

    consumer = transport.consumer(f"relay-check-{run}", [RELATIONSHIPS_TOPIC])
    received: dict[str, list[str]] = defaultdict(list)
    deadline = time.monotonic() + 60
    expected = len(keys) * per_key
    while time.monotonic() < deadline and sum(len(set(v)) for v in received.values()) < expected:
        for record in consumer.poll(0.5):
            if record.key in committed:
                envelope = Envelope.from_bytes(record.value)
                assert envelope.key == record.key
                received[record.key].append(str(envelope.event_id))
    consumer.close()
    transport.close()
    database.dispose()

    duplicates = 0
    for key in keys:
        first_seen = list(dict.fromkeys(received[key]))
        assert first_seen == committed[key], f"{key}: events lost or reordered"
        duplicates += len(received[key]) - len(first_seen)
    print(f"relay crashes: {sum(p.crashes for p in publishers)}, duplicates delivered: {duplicates}")
