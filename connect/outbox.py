"""The transactional outbox.

A service writes its state change and the event describing it in the same
transaction (the unit of work does this).  The relay later hands committed
rows to the event transport and marks them sent only once the transport has
acknowledged them: at-least-once, in commit order, never an event for a change
that rolled back.
"""

from __future__ import annotations

import logging
import threading
import uuid
import zlib
from datetime import datetime
from typing import Any, Callable, Sequence

from sqlalchemy import (BigInteger, Column, DateTime, Index, Integer, LargeBinary, MetaData, String, Table,
                        any_, bindparam, select, text, update)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from connect.clock import Clock
from connect.db import Database
from connect.events import OutgoingMessage, Publisher
from schemas.events import Envelope, EventData

log = logging.getLogger(__name__)

# What the relay still has to send.  Its index is partial, on id: the relay's "oldest unsent rows"
# reads only those entries, in order.  (An index on published_at listed every row version that
# was ever unsent, until vacuum, and each poll visited all of them: 2 ms of PostgreSQL per poll
# at 20,000 rows, growing with the table.)
UNSENT = "published_at IS NULL"


def outbox_table(metadata: MetaData, service: str) -> Table:
    return Table(
        f"{service}_outbox",
        metadata,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("type", String(100), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("occurred_at", DateTime(timezone=True), nullable=False),
        Column("published_at", DateTime(timezone=True), nullable=True),
        Index(f"ix_{service}_outbox_unsent", "id", postgresql_where=text(UNSENT), sqlite_where=text(UNSENT)),
    )


def create_outbox_table(op, service: str) -> None:  # type: ignore[no-untyped-def]
    """For a service's first migration: the outbox table as `outbox_table` declares it.

    Later changes to the outbox must come as new migrations, not edits here.
    """
    import sqlalchemy as sa

    name = f"{service}_outbox"
    op.create_table(
        name,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(f"ix_{name}_published_at", name, ["published_at"])


def index_unsent_rows(op, service: str) -> None:  # type: ignore[no-untyped-def]
    """For the migration that follows `create_outbox_table`: the partial index on id of the rows
    still to send (see UNSENT) in place of the first one on published_at.

    The new index comes first, so the relay is never without one.  On PostgreSQL both steps run
    CONCURRENTLY, outside the migration's transaction: a plain CREATE INDEX would hold back every
    write to the outbox -- every state change of the service -- while it reads the whole table.
    A build that was interrupted leaves an invalid index of the same name; drop it, then rerun."""
    import sqlalchemy as sa

    name = f"{service}_outbox"
    unsent = dict(postgresql_where=sa.text(UNSENT), sqlite_where=sa.text(UNSENT))
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.create_index(f"ix_{name}_unsent", name, ["id"], postgresql_concurrently=True, **unsent)
            op.drop_index(f"ix_{name}_published_at", table_name=name, postgresql_concurrently=True)
    else:
        op.create_index(f"ix_{name}_unsent", name, ["id"], **unsent)
        op.drop_index(f"ix_{name}_published_at", table_name=name)


def index_published_at(op, service: str) -> None:  # type: ignore[no-untyped-def]
    """`index_unsent_rows` undone."""
    name = f"{service}_outbox"
    op.drop_index(f"ix_{name}_unsent", table_name=name)
    op.create_index(f"ix_{name}_published_at", name, ["published_at"])


class Outbox:
    def __init__(self, table: Table, producer: str) -> None:
        self.table = table
        self.producer = producer

    def add(self, session: Session, event: EventData, occurred_at: datetime,
            event_id: uuid.UUID | None = None) -> Envelope:
        envelope = event.envelope(producer=self.producer, occurred_at=occurred_at, event_id=event_id)
        session.execute(self.table.insert().values(
            event_id=str(envelope.event_id), topic=event.TOPIC, key=envelope.key, type=envelope.type,
            payload=envelope.to_bytes(), occurred_at=occurred_at,
        ))
        return envelope

    def forget_sent(self, session: Session, keys: Sequence[str]) -> None:
        """Delete the rows of these keys that were already relayed (an erasure: no consumer needs
        them any more); rows not sent yet stay, they must still go out."""
        if keys:
            session.execute(self.table.delete().where(self.table.c.key.in_(list(keys)),
                                                      self.table.c.published_at.isnot(None)))


class OutboxRelay:
    """Moves committed outbox rows to the transport, oldest first."""

    def __init__(self, database: Database, table: Table, publisher: Publisher, clock: Clock,
                 batch_size: int = 500) -> None:
        self.database = database
        self.table = table
        self.publisher = publisher
        self.clock = clock
        self.batch_size = batch_size
        self.wakeup = threading.Event()
        # Per-key order needs a single active relay per outbox; this lock id says which.
        self._advisory_lock_id = zlib.crc32(table.name.encode())
        # Built once: at a few hundred events a second the relay runs often, and building and
        # cache-keying its statements each time was a visible share of its CPU.
        self._take_lock = text("select pg_try_advisory_xact_lock(:id)")
        self._unsent = (select(table.c.id, table.c.topic, table.c.key, table.c.payload)
                        .where(table.c.published_at.is_(None)).order_by(table.c.id).limit(batch_size))
        # PostgreSQL takes the ids as one array: the same statement text for every batch size, so
        # neither SQLAlchemy nor psycopg rewrites it per call as they do an IN list.
        sent_ids = (table.c.id == any_(bindparam("ids", type_=ARRAY(BigInteger))) if database.is_postgres
                    else table.c.id.in_(bindparam("ids", expanding=True)))
        self._mark_sent = update(table).where(sent_ids).values(published_at=bindparam("now"))

    def relay_once(self) -> int:
        """Publish one batch; returns how many rows were sent (0 when idle or another relay is active)."""
        # A Core connection: the ORM session's bookkeeping bought nothing for three statements.
        with self.database.engine.begin() as conn:
            if self.database.is_postgres:
                if not conn.execute(self._take_lock, {"id": self._advisory_lock_id}).scalar():
                    return 0
            rows = conn.execute(self._unsent).all()
            if not rows:
                return 0
            # Blocks until the transport acknowledged every message; raises otherwise,
            # which rolls back and leaves the rows for the next attempt.
            self.publisher.publish([OutgoingMessage(topic=r.topic, key=r.key, value=r.payload) for r in rows])
            conn.execute(self._mark_sent, {"ids": [r.id for r in rows], "now": self.clock.now()})
            return len(rows)

    def drain(self) -> int:
        total = 0
        while (sent := self.relay_once()):
            total += sent
        return total

    def pending(self) -> int:
        from sqlalchemy import func

        with self.database.session() as session:
            return session.execute(
                select(func.count()).select_from(self.table).where(self.table.c.published_at.is_(None))
            ).scalar_one()

    def run(self, stop: threading.Event, idle_seconds: float = 0.5,
            on_error: Callable[[BaseException], Any] | None = None) -> None:
        backoff = idle_seconds
        while not stop.is_set():
            try:
                sent = self.relay_once()
                backoff = idle_seconds
            except Exception as exc:  # keep relaying after transient transport or database failures
                log.warning("outbox relay for %s failed: %s", self.table.name, exc)
                if on_error:
                    on_error(exc)
                sent = 0
                backoff = min(backoff * 2, 30.0)
            if not sent:
                self.wakeup.wait(backoff)
                self.wakeup.clear()
