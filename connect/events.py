"""The event transport port, and the consumer loop every consumer runs on.

Two adapters implement it: `adapters.events_embedded` (a durable log in a
SQLite file, for the one-process default) and `adapters.events_kafka`.  Both
have Kafka's semantics where they matter here: per-key order, consumer groups
with committed offsets, at-least-once delivery.  One contract suite
(tests/contract/test_event_transport.py) holds both to them.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from enum import StrEnum
from typing import Callable, Protocol, Sequence

from pydantic import ValidationError

from schemas.events import Envelope, EventData, UnknownEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutgoingMessage:
    topic: str
    key: str
    value: bytes


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes


class Publisher(Protocol):
    def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        """Return only once every message is acknowledged; raise otherwise."""


class Consumer(Protocol):
    def poll(self, timeout_seconds: float, max_records: int = 500) -> list[Record]: ...

    def commit(self, records: Sequence[Record]) -> None:
        """Commit past every record given (offset + 1 per partition)."""

    def close(self) -> None: ...


class EventTransport(Protocol):
    def publisher(self) -> Publisher: ...

    def consumer(self, group_id: str, topics: Sequence[str]) -> Consumer: ...

    def close(self) -> None: ...


class PoisonMessage(Exception):
    """The record can never be processed (undecodable, unknown, invalid): dead-letter it."""


class TransientError(Exception):
    """Processing may succeed later (a server answered 4xx, a connection dropped)."""


class UnknownTypes(StrEnum):
    """What a consumer does with an event type (or a newer version) it cannot read."""

    #: Not ours: the record is passed over (the contract lets consumers skip what they do not know).
    SKIP = "skip"
    #: Ours to act on, so unreadable is a fault: the record is dead-lettered for someone to look at.
    DEAD_LETTER = "dead-letter"
    #: The consumer reads envelopes only (the ops mirror): no type is unknown, payloads are not read.
    ENVELOPE_ONLY = "envelope-only"


@dataclass(frozen=True)
class Decoded:
    envelope: Envelope
    #: The typed payload; None under `UnknownTypes.ENVELOPE_ONLY`.
    event: EventData | None


def decode_event(raw: bytes, unknown: UnknownTypes) -> Decoded | None:
    """The one reading of a record's bytes every consumer shares, with the consumer's own policy
    for types it cannot read.  None: skip the record.  `PoisonMessage`: dead-letter it (anything
    that is not an envelope, a payload that breaks its schema, and per `unknown`)."""
    try:
        envelope = Envelope.from_bytes(raw)
    except (ValidationError, ValueError, UnicodeDecodeError) as exc:
        raise PoisonMessage(f"not an event envelope: {exc}") from exc
    if unknown is UnknownTypes.ENVELOPE_ONLY:
        return Decoded(envelope, None)
    try:
        return Decoded(envelope, envelope.payload())
    except UnknownEvent as exc:
        if unknown is UnknownTypes.SKIP:
            return None
        raise PoisonMessage(str(exc)) from exc
    except ValidationError as exc:
        raise PoisonMessage(f"invalid {envelope.type} payload: {exc}") from exc


class DependencyUnavailable(Exception):
    """A server the handler writes to (a search cluster) does not answer: an outage, nothing
    wrong with the record.  The loop waits it out, retrying with backoff for as long as it
    lasts, and never dead-letters a record for it."""


Handler = Callable[[Record], None]
# Handles a list of records in order, cheaply (shared lookups, grouped writes), and returns the
# records it left undone, in order: one that failed and every later record of the same
# (topic, partition, key).  The loop then runs those through the one-record handler, whose
# retries, backoff and dead-lettering stay the single error path.
BatchHandler = Callable[[list[Record]], list[Record]]


def dead_letter_topic(group_id: str) -> str:
    return f"connect.dlq.{group_id}"


class ConsumerLoop:
    """Poll, process, commit only after the work is done.

    A `PoisonMessage` goes to the group's dead-letter topic at once; a
    `TransientError` (or any other exception) is retried with exponential
    backoff and dead-lettered after `max_attempts`, so one bad record never
    stalls its partition for ever.  A `DependencyUnavailable` is no fault of the
    record: the loop retries it until the dependency answers or the loop is
    stopped (without a stop event, `run_once` raises it, committing only what was
    done, so the record is redone on the next poll).
    """

    def __init__(self, transport: EventTransport, group_id: str, topics: Sequence[str], handler: Handler,
                 *, max_attempts: int = 5, backoff_seconds: float = 0.2, max_backoff_seconds: float = 10.0,
                 sleep: Callable[[float], None] = time.sleep, workers: int = 1,
                 batch_handler: BatchHandler | None = None) -> None:
        self.transport = transport
        self.batch_handler = batch_handler
        # workers > 1: records with different keys are handled in parallel threads (a key's
        # records stay in order); for I/O-bound handlers such as the notifier's SMTP sends.
        self.workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._dead_letter_lock = threading.Lock()
        self.group_id = group_id
        self.topics = list(topics)
        self.handler = handler
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.sleep = sleep
        self._consumer: Consumer | None = None
        self._publisher: Publisher | None = None
        self.dead_lettered = 0

    @property
    def consumer(self) -> Consumer:
        if self._consumer is None:
            self._consumer = self.transport.consumer(self.group_id, self.topics)
        return self._consumer

    def _dead_letter(self, record: Record, reason: str) -> None:
        log.error("dead-lettering %s[%s]@%s for group %s: %s", record.topic, record.partition, record.offset,
                  self.group_id, reason)
        with self._dead_letter_lock:
            if self._publisher is None:
                self._publisher = self.transport.publisher()
            self._publisher.publish([OutgoingMessage(dead_letter_topic(self.group_id), record.key or "",
                                                     record.value)])
            self.dead_lettered += 1

    def _process(self, record: Record, stop: threading.Event | None) -> None:
        delay = self.backoff_seconds
        attempt = 0
        while True:
            try:
                self.handler(record)
                return
            except PoisonMessage as exc:
                self._dead_letter(record, str(exc))
                return
            except DependencyUnavailable as exc:  # an outage: wait it out, the record is fine
                if stop is None or stop.is_set():
                    raise
                log.warning("group %s: %s@%s waits for a dependency: %s", self.group_id, record.topic,
                            record.offset, exc)
                stop.wait(delay)
            except Exception as exc:  # retry whatever else went wrong, then give up on this record only
                attempt += 1
                if attempt == self.max_attempts or (stop is not None and stop.is_set()):
                    if stop is not None and stop.is_set():
                        raise
                    self._dead_letter(record, f"failed {attempt} times: {exc!r}")
                    return
                log.warning("group %s: attempt %s on %s@%s failed: %s", self.group_id, attempt, record.topic,
                            record.offset, exc)
                self.sleep(delay)
            delay = min(delay * 2, self.max_backoff_seconds)

    def _work(self, records: list[Record], stop: threading.Event | None,
              done: list[Record] | None = None) -> None:
        """Handle `records` (in order per key); `done` collects those finished, in order."""
        undone = records
        if self.batch_handler is not None and len(records) > 1:
            try:
                undone = self.batch_handler(records)
            except Exception as exc:  # the one-record path below redoes them (handlers are idempotent)
                log.warning("group %s: batch of %s records failed, handling them one by one: %s",
                            self.group_id, len(records), exc)
                undone = records
        if done is not None:
            left = set(id(r) for r in undone)
            done.extend(r for r in records if id(r) not in left)
        for record in undone:
            self._process(record, stop)
            if done is not None:
                done.append(record)

    def _run_parallel(self, consumer: Consumer, records: list[Record], stop: threading.Event | None) -> None:
        lanes: dict[tuple[str, int, str | None], list[Record]] = {}
        for record in records:
            lanes.setdefault((record.topic, record.partition, record.key), []).append(record)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix=f"consumer-{self.group_id}")
        if self.batch_handler is not None:
            # One batch per thread, each holding whole lanes, so lookups and ledger writes are shared.
            groups: list[list[Record]] = [[] for _ in range(min(self.workers, len(lanes)))]
            for n, items in enumerate(lanes.values()):
                groups[n % len(groups)].extend(items)
            futures = [self._pool.submit(self._work, items, stop) for items in groups]
        else:
            futures = [self._pool.submit(self._work, items, stop) for items in lanes.values()]
        wait(futures)
        failed = next((f.exception() for f in futures if f.exception() is not None), None)
        if failed is not None:
            # Lanes finished at different points: commit nothing, let the next consumer redo the
            # batch from the committed offsets (handlers are idempotent).
            self.close()
            raise failed

    def run_once(self, timeout_seconds: float = 0.5, stop: threading.Event | None = None) -> int:
        consumer = self.consumer
        records = consumer.poll(timeout_seconds)
        if self.workers > 1 and len(records) > 1:
            self._run_parallel(consumer, records, stop)
            self._commit_or_drop(consumer, records)
            return len(records)
        done: list[Record] = []
        try:
            self._work(records, stop, done)
        except BaseException:
            # The consumer's position is already past the whole batch: keep what was done,
            # then drop the consumer so the next poll resumes from the committed offsets
            # instead of silently skipping the unprocessed rest.  Only the unbroken prefix
            # counts: a commit moves each partition past its highest record given.
            finished = set(id(r) for r in done)
            done = list(itertools.takewhile(lambda r: id(r) in finished, records))
            try:
                consumer.commit(done)
            except Exception as exc:
                log.warning("group %s: commit after a failed batch failed: %s", self.group_id, exc)
            self.close()
            raise
        if records:
            self._commit_or_drop(consumer, records)
        return len(records)

    def _commit_or_drop(self, consumer: Consumer, records: list[Record]) -> None:
        try:
            consumer.commit(records)
        except BaseException:
            # Uncommitted work is redone by whoever reads these partitions next (handlers are idempotent).
            self.close()
            raise

    def run(self, stop: threading.Event, timeout_seconds: float = 0.5) -> None:
        try:
            while not stop.is_set():
                try:
                    self.run_once(timeout_seconds, stop)
                except Exception as exc:  # a broken poll must not kill the role; back off and go on
                    if stop.is_set():
                        break
                    log.exception("group %s: consumer loop error: %s", self.group_id, exc)
                    stop.wait(1.0)
        finally:
            self.close()

    def close(self) -> None:
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            consumer.close()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.shutdown(wait=True)
