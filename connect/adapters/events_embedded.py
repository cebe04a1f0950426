"""Embedded event transport: a durable append-only log in a SQLite file.

It keeps Kafka's guarantees that consumers rely on (total order per topic,
consumer groups with committed offsets, redelivery after a crash) without a
broker, so the one-process default runs the very same consumers.

Erasure: publishing MemberErased compacts the log for that member in the same
transaction (see `_compact_for_erasure`), and the write-ahead log is truncated after
it, so the member's personal text is left neither in rows nor in free pages.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Sequence

from sqlalchemy import (Column, Integer, LargeBinary, MetaData, String, Table, create_engine, delete, event, func,
                        select, update)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from connect.db import truncate_sqlite_wal
from connect.events import OutgoingMessage, Record
from schemas.events import (EVENT_TYPES, MEMBERS_TOPIC, TOPICS_KEYED_BY_MEMBER, Envelope, MemberErased,
                            erased_from)

log = logging.getLogger(__name__)

_metadata = MetaData()
_log = Table(
    "event_log", _metadata,
    Column("offset", Integer, primary_key=True, autoincrement=True),
    Column("topic", String(200), nullable=False, index=True),
    Column("key", String(200)),
    Column("value", LargeBinary, nullable=False),
)
_offsets = Table(
    "consumer_offsets", _metadata,
    # One log orders every topic, so a group's position is a single offset.
    Column("group_id", String(200), primary_key=True),
    Column("next_offset", Integer, nullable=False),
)


def _pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    # Rows are deleted or rewritten only by an erasure: zero what they leave in free space.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


class EmbeddedTransport:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._engine = None
        self._lock = threading.Lock()
        self._published = threading.Condition()

    @property
    def engine(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._engine is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                engine = create_engine(f"sqlite:///{self.path.as_posix()}",
                                       connect_args={"check_same_thread": False, "timeout": 30})
                event.listen(engine, "connect", _pragmas)
                _metadata.create_all(engine)
                self._engine = engine
            return self._engine

    def publisher(self) -> "EmbeddedPublisher":
        return EmbeddedPublisher(self)

    def consumer(self, group_id: str, topics: Sequence[str]) -> "EmbeddedConsumer":
        return EmbeddedConsumer(self, group_id, list(topics))

    def notify(self) -> None:
        with self._published:
            self._published.notify_all()

    def wait(self, timeout: float) -> None:
        with self._published:
            self._published.wait(timeout)

    def truncate_wal(self) -> None:
        truncate_sqlite_wal(self.engine, "the event log")

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None


class EmbeddedPublisher:
    def __init__(self, transport: EmbeddedTransport) -> None:
        self.transport = transport

    def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        if not messages:
            return
        erased = [m.key for m in messages if m.topic == MEMBERS_TOPIC and m.key and _is_erasure(m.value)]
        with self.transport.engine.begin() as conn:
            conn.execute(_log.insert(), [{"topic": m.topic, "key": m.key, "value": m.value} for m in messages])
            for member_id in erased:
                _compact_for_erasure(conn, member_id)
        if erased:
            self.transport.truncate_wal()
        self.transport.notify()


# How an envelope of MemberErased reads in its JSON bytes (pydantic writes compact JSON).
_ERASED_MARK = b'"type":"MemberErased"'


def _is_erasure(value: bytes) -> bool:
    # The substring test spares decoding every other members-topic record.
    return _ERASED_MARK in value and Envelope.from_bytes(value).type == MemberErased.TYPE


def _compact_for_erasure(conn, member_id: str) -> None:  # type: ignore[no-untyped-def]
    """What a compacted Kafka topic does for the member-keyed topics, and more: every other record
    keyed by the member on those topics is deleted (MemberErased supersedes them; a late duplicate
    of an older record published in the same batch goes too), and records of other topics that
    mention the member are rewritten without their personal text (`schemas.events.erased_from`),
    or deleted when they are dead-letter copies of the member's own records or cannot be read.
    Consumers that had not read a record yet read the scrubbed one, or none."""
    conn.execute(delete(_log).where(_log.c.topic.in_(TOPICS_KEYED_BY_MEMBER), _log.c.key == member_id,
                                    func.instr(_log.c.value, _ERASED_MARK) == 0))
    # The id appears as a JSON string wherever a record mentions the member.
    needle = json.dumps(member_id).encode()
    mentions = conn.execute(select(_log.c.offset, _log.c.value).where(
        _log.c.topic.not_in(TOPICS_KEYED_BY_MEMBER), func.instr(_log.c.value, needle) > 0)).all()
    for offset, value in mentions:
        try:
            envelope = Envelope.from_bytes(value)
        except ValueError:  # a dead letter we cannot read, naming the member: it cannot be scrubbed
            envelope = None
        own_type = EVENT_TYPES.get(envelope.type) if envelope is not None else None
        if envelope is None or (envelope.key == member_id and own_type is not None and own_type is not MemberErased
                                and own_type.TOPIC in TOPICS_KEYED_BY_MEMBER):
            # Unreadable, or a copy of one of the member's own records (a dead letter): it goes.
            conn.execute(delete(_log).where(_log.c.offset == offset))
            continue
        scrubbed = erased_from(envelope, member_id)
        if scrubbed is not None:
            conn.execute(update(_log).where(_log.c.offset == offset).values(value=scrubbed.to_bytes()))


class EmbeddedConsumer:
    def __init__(self, transport: EmbeddedTransport, group_id: str, topics: list[str]) -> None:
        self.transport = transport
        self.group_id = group_id
        self.topics = topics
        self._position: int | None = None

    def _committed(self) -> int:
        with self.transport.engine.connect() as conn:
            committed = conn.execute(
                select(_offsets.c.next_offset).where(_offsets.c.group_id == self.group_id)).scalar()
        return committed or 1

    def poll(self, timeout_seconds: float, max_records: int = 500) -> list[Record]:
        if self._position is None:
            self._position = self._committed()
        for attempt in range(2):
            with self.transport.engine.connect() as conn:
                rows = conn.execute(
                    select(_log.c.offset, _log.c.topic, _log.c.key, _log.c.value)
                    .where(_log.c.offset >= self._position, _log.c.topic.in_(self.topics))
                    .order_by(_log.c.offset).limit(max_records)
                ).all()
            if rows or attempt or timeout_seconds <= 0:
                break
            self.transport.wait(timeout_seconds)
        if rows:
            self._position = rows[-1].offset + 1
        return [Record(topic=r.topic, partition=0, offset=r.offset, key=r.key, value=r.value) for r in rows]

    def commit(self, records: Sequence[Record]) -> None:
        if not records:
            return
        next_offset = max(r.offset for r in records) + 1
        with self.transport.engine.begin() as conn:
            stmt = sqlite_insert(_offsets).values(group_id=self.group_id, next_offset=next_offset)
            conn.execute(stmt.on_conflict_do_update(index_elements=[_offsets.c.group_id],
                                                    set_={"next_offset": next_offset}))

    def close(self) -> None:
        self._position = None
