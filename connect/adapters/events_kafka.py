"""Kafka adapter of the event transport port (kafka-python 3.x).

Publisher: an idempotent producer with `acks=all`; `publish()` returns only once
the broker acknowledged every message and raises otherwise, which is what lets
the outbox relay mark rows sent.  Consumer: a consumer group with auto-commit
off; offsets are committed (offset + 1 per partition) only for records the
caller has processed.  Nothing connects before the first publish or poll.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Iterable, Sequence

from connect.events import OutgoingMessage, Record
from connect.settings import EventSettings
from schemas.events import TOPICS_KEYED_BY_MEMBER

log = logging.getLogger(__name__)

# Topics keyed by member are compacted so that MemberErased, the member's last record, supersedes
# the records that carried their name, email and profile texts.  Compaction waits a day
# (min.compaction.lag.ms) so a consumer that is behind still reads every record, and segments
# roll daily (segment.ms) because the active segment is never compacted: an erasure leaves
# Kafka within about two days plus the cleaner's schedule.  See docs/workspace.md "Erasure".
_DAY_MS = str(24 * 3600 * 1000)
TOPIC_CONFIGS: dict[str, dict[str, str]] = {
    topic: {"cleanup.policy": "compact", "min.compaction.lag.ms": _DAY_MS, "segment.ms": _DAY_MS}
    for topic in TOPICS_KEYED_BY_MEMBER
}


class KafkaTransport:
    def __init__(self, settings: EventSettings) -> None:
        if not settings.kafka_bootstrap:
            raise ValueError("KafkaTransport needs CONNECT_KAFKA_BOOTSTRAP")
        self.settings = settings
        self.bootstrap = [s.strip() for s in settings.kafka_bootstrap.split(",") if s.strip()]
        self._known_topics: set[str] = set()
        self._topics_lock = threading.Lock()
        self._open: list[KafkaPublisher | KafkaConsumerAdapter] = []

    # --- topics ------------------------------------------------------------------
    def ensure_topics(self, topics: Iterable[str]) -> None:
        """Create missing topics with the configured partitions and replication (idempotent)."""
        wanted = set(topics) - self._known_topics
        if not wanted:
            return
        from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
        from kafka.errors import TopicAlreadyExistsError

        with self._topics_lock:
            wanted -= self._known_topics
            if not wanted:
                return
            admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=f"{self.settings.kafka_client_id}-admin",
                                     request_timeout_ms=10000)
            try:
                existing = set(admin.list_topics())
                missing = sorted(wanted - existing)
                if missing:
                    try:
                        admin.create_topics([
                            NewTopic(name, self.settings.kafka_partitions, self.settings.kafka_replication_factor,
                                     topic_configs=TOPIC_CONFIGS.get(name, {}))
                            for name in missing])
                        log.info("created topics %s", missing)
                    except TopicAlreadyExistsError:
                        pass  # another process created them first
                # Topics made before (or auto-created by a producer) converge on the policy too.
                policed = sorted(name for name in wanted & existing if name in TOPIC_CONFIGS)
                if policed:
                    admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, name, configs=TOPIC_CONFIGS[name])
                                         for name in policed])
            finally:
                admin.close()
            self._known_topics |= wanted

    # --- port --------------------------------------------------------------------
    def publisher(self) -> "KafkaPublisher":
        publisher = KafkaPublisher(self)
        self._open.append(publisher)
        return publisher

    def consumer(self, group_id: str, topics: Sequence[str]) -> "KafkaConsumerAdapter":
        consumer = KafkaConsumerAdapter(self, group_id, list(topics))
        self._open.append(consumer)
        return consumer

    def close(self) -> None:
        while self._open:
            self._open.pop().close()


class KafkaPublisher:
    def __init__(self, transport: KafkaTransport) -> None:
        self.transport = transport
        self._producer: Any = None
        self._lock = threading.Lock()

    def _connect(self) -> Any:
        from kafka import KafkaProducer

        settings = self.transport.settings
        return KafkaProducer(
            bootstrap_servers=self.transport.bootstrap,
            client_id=settings.kafka_client_id,
            acks="all",
            enable_idempotence=True,
            # Idempotence keeps per-partition order with up to 5 requests in flight.
            max_in_flight_requests_per_connection=5,
            linger_ms=5,
            request_timeout_ms=min(10000, settings.kafka_delivery_timeout_ms),
            delivery_timeout_ms=settings.kafka_delivery_timeout_ms,
            max_block_ms=settings.kafka_delivery_timeout_ms,
        )

    def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        if not messages:
            return
        with self._lock:
            self.transport.ensure_topics({m.topic for m in messages})
            if self._producer is None:
                self._producer = self._connect()
            timeout = self.transport.settings.kafka_delivery_timeout_ms / 1000 + 5
            try:
                futures = [self._producer.send(m.topic, key=m.key.encode(), value=m.value) for m in messages]
                self._producer.flush(timeout=timeout)
                for future in futures:
                    future.get(timeout=timeout)
            except Exception:
                # A producer that failed mid-batch may hold half-sent state; start afresh next
                # time (the caller re-sends the whole batch, so duplicates are possible, losses not).
                self._discard()
                raise

    def _discard(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=0)
            except Exception as exc:  # closing a broken producer must not hide the real error
                # kafka-python's close() flushes first and gives up when that flush cannot finish
                # (batches still in flight to a dead broker), before it stops its network thread:
                # each broker outage during a publish left one such thread running for good.
                # Stopping it aborts the stranded batches; the caller re-sends the whole batch.
                sender = getattr(producer, "_sender", None)
                if sender is not None:
                    sender.force_close()
                log.warning("closing kafka producer failed (%s); its network thread was stopped", exc)

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                try:
                    self._producer.close(timeout=5)
                except Exception as exc:
                    log.warning("closing kafka producer failed: %s", exc)
                self._producer = None


class KafkaConsumerAdapter:
    def __init__(self, transport: KafkaTransport, group_id: str, topics: list[str]) -> None:
        self.transport = transport
        self.group_id = group_id
        self.topics = topics
        self._consumer: Any = None
        self._unstable_since: float | None = None
        # How long the consumer may go without a stable group membership before it is replaced.
        self.stuck_after_seconds = max(20.0, 2 * transport.settings.kafka_session_timeout_ms / 1000)

    def _connect(self) -> Any:
        from kafka import KafkaConsumer

        self.transport.ensure_topics(self.topics)
        consumer = KafkaConsumer(
            bootstrap_servers=self.transport.bootstrap,
            client_id=self.transport.settings.kafka_client_id,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            request_timeout_ms=30000,
            # Slow handlers (SMTP retries with backoff) must not get the member kicked out.
            max_poll_interval_ms=600000,
            session_timeout_ms=self.transport.settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=max(1000, self.transport.settings.kafka_session_timeout_ms // 4),
        )
        consumer.subscribe(self.topics)
        return consumer

    def poll(self, timeout_seconds: float, max_records: int = 500) -> list[Record]:
        if self._consumer is not None and self._stuck():
            log.warning("kafka consumer of %s has had no stable group membership for %.0f s: reconnecting",
                        self.group_id, self.stuck_after_seconds)
            self.close()  # uncommitted records come again; consumers are idempotent
        if self._consumer is None:
            self._consumer = self._connect()
            self._unstable_since = None
        batches = self._consumer.poll(timeout_ms=int(timeout_seconds * 1000), max_records=max_records)
        records: list[Record] = []
        for partition_records in batches.values():
            for r in partition_records:
                key = r.key.decode() if isinstance(r.key, bytes) else r.key
                records.append(Record(topic=r.topic, partition=r.partition, offset=r.offset, key=key, value=r.value))
        return records

    def _stuck(self) -> bool:
        """Whether the consumer has been without a stable group membership for too long.

        After a broker restart kafka-python can go on looking for the coordinator for minutes
        (seen in the broker-kill fault test, while a new consumer in the same group got its
        partitions in half a second), which would stall every partition of the group.  The
        coordinator may flicker between found and lost meanwhile, so only a stable membership
        resets the clock.  kafka-python has no public call for this, so its coordinator is read
        directly."""
        coordinator = getattr(self._consumer, "_coordinator", None)
        unknown = getattr(coordinator, "coordinator_unknown", None)
        stable = getattr(coordinator, "stable", None)
        if unknown is None or stable is None or (not unknown() and stable()):
            self._unstable_since = None
            return False
        now = time.monotonic()
        if self._unstable_since is None:
            self._unstable_since = now
        return now - self._unstable_since > self.stuck_after_seconds

    def commit(self, records: Sequence[Record]) -> None:
        if not records or self._consumer is None:
            return
        from kafka.structs import OffsetAndMetadata, TopicPartition

        next_offsets: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            next_offsets[tp] = max(next_offsets.get(tp, 0), r.offset + 1)
        self._consumer.commit({tp: OffsetAndMetadata(offset, "", -1) for tp, offset in next_offsets.items()},
                              timeout_ms=30000)

    def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:
                consumer.close(autocommit=False, timeout_ms=5000)
            except Exception as exc:
                log.warning("closing kafka consumer of %s failed: %s", self.group_id, exc)
