"""SQL adapters of the notifier's stores: the recipients directory, the deliveries ledger and the
notification feed."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterable, Iterator

from sqlalchemy import Connection, delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from connect.clock import utc
from connect.db import Database
from services.notifier.adapters.orm import deliveries, feed, feed_closed, members
from services.notifier.domain.feed import FeedEntry
from services.notifier.domain.recipients import Recipient


def kept_connection(database: Database) -> Connection:
    """A connection a caller keeps for a batch of short reads and inserts (a pool checkout per
    statement cost more than the statement). On PostgreSQL it autocommits: each statement used
    with it is atomic on its own, so it costs one round trip instead of three (BEGIN, statement,
    COMMIT or ROLLBACK) -- and a delivery's record follows the server's 250 that much sooner."""
    conn = database.engine.connect()
    if database.is_postgres:
        conn.execution_options(isolation_level="AUTOCOMMIT")
    return conn


@contextmanager
def _transaction(database: Database, conn: Connection | None) -> Iterator[Connection]:
    """One short transaction on the caller's kept connection, or on a pooled one."""
    if conn is None:
        with database.engine.begin() as own:
            yield own
    else:
        with conn.begin():
            yield conn


class SqlDirectory:
    def __init__(self, database: Database) -> None:
        self.database = database

    def get(self, member_id: str) -> Recipient | None:
        with self.database.engine.connect() as conn:
            row = conn.execute(select(members).where(members.c.member_id == member_id)).first()
        if row is None:
            return None
        return Recipient(row.member_id, row.name, row.email, active=row.active, erased=row.erased)

    def get_many(self, member_ids: set[str], conn: Connection | None = None) -> dict[str, Recipient]:
        """`conn`: one from `kept_connection`, or None for a pooled one."""
        if not member_ids:
            return {}
        with _transaction(self.database, conn) as tx:
            rows = tx.execute(select(members).where(members.c.member_id.in_(sorted(member_ids)))).all()
        return {row.member_id: Recipient(row.member_id, row.name, row.email, active=row.active, erased=row.erased)
                for row in rows}

    def _upsert(self, member_id: str, now: datetime, **values: object) -> None:
        # Check-then-write inside one transaction; the primary key settles a concurrent insert
        # (the consumer then retries the event and takes the update path).
        with self.database.session() as session, session.begin():
            exists = session.execute(
                select(members.c.member_id).where(members.c.member_id == member_id)).first()
            if exists:
                session.execute(update(members).where(members.c.member_id == member_id)
                                .values(updated_at=now, **values))
            else:
                row = {"name": None, "email": None, "active": True, "erased": False, **values}
                session.execute(members.insert().values(member_id=member_id, updated_at=now, **row))

    def details_changed(self, member_id: str, name: str, email: str, now: datetime) -> None:
        current = self.get(member_id)
        if current is not None and current.erased:
            return  # erasure is final: a late or replayed event must not bring the data back
        self._upsert(member_id, now, name=name, email=email)

    def deactivated(self, member_id: str, now: datetime) -> None:
        self._upsert(member_id, now, active=False)

    def erased(self, member_id: str, now: datetime) -> None:
        if not self.database.is_sqlite:
            self._upsert(member_id, now, name=None, email=None, active=False, erased=True)
            return
        # SQLite keeps overwritten bytes in free space and old page images in the write-ahead
        # log: zero freed content on this write, then fold the log back and truncate it.
        with self.database.engine.connect() as conn:
            raw = conn.connection.driver_connection  # pragmas outside SQLAlchemy's transaction
            raw.execute("PRAGMA secure_delete=ON")
            try:
                with conn.begin():
                    exists = conn.execute(select(members.c.member_id).where(members.c.member_id == member_id)).first()
                    values = {"name": None, "email": None, "active": False, "erased": True, "updated_at": now}
                    if exists:
                        conn.execute(update(members).where(members.c.member_id == member_id).values(**values))
                    else:
                        conn.execute(members.insert().values(member_id=member_id, **values))
            finally:
                raw.execute("PRAGMA secure_delete=OFF")
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")


class SqlDeliveries:
    """The ledger of (event, recipient) emails: a row is written as a claim before the email is
    handed to the sender (`sent_at` empty) and confirmed once the sender accepted it.  A claim
    still unconfirmed when its event comes back means the notifier stopped in between: whether
    that email left is unknown (docs/events.md, "Crashes")."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._claim: Any = None
        self._confirm: Any = None

    def _dialect_insert(self) -> Any:
        return sqlite_insert if self.database.is_sqlite else postgresql_insert

    def _claim_statement(self) -> Any:
        # Built once: a new statement per email cost SQLAlchemy a cache-key walk each time.
        if self._claim is None:
            self._claim = self._dialect_insert()(deliveries).on_conflict_do_nothing()
        return self._claim

    def _confirm_statement(self) -> Any:
        if self._confirm is None:
            insert = self._dialect_insert()(deliveries)
            self._confirm = insert.on_conflict_do_update(
                index_elements=[deliveries.c.event_id, deliveries.c.recipient_id],
                set_={"sent_at": insert.excluded.sent_at})
        return self._confirm

    def ledger_many(self, event_ids: Iterable[str], conn: Connection | None = None) -> dict[str, dict[str, bool]]:
        """Per event, each recipient in the ledger: True when their email was confirmed sent, False
        when it was only claimed.  One round trip for a whole polled batch.  `conn`: one from
        `kept_connection`, or None for a pooled one."""
        wanted = sorted(set(event_ids))
        found: dict[str, dict[str, bool]] = {event_id: {} for event_id in wanted}
        if not wanted:
            return found
        with _transaction(self.database, conn) as tx:
            for event_id, recipient_id, sent_at in tx.execute(
                    select(deliveries.c.event_id, deliveries.c.recipient_id, deliveries.c.sent_at)
                    .where(deliveries.c.event_id.in_(wanted))):
                found[event_id][recipient_id] = sent_at is not None
        return found

    def claim_many(self, rows: list[dict[str, object]], conn: Connection | None = None) -> None:
        """Claim (event_id, recipient_id, message_id, claimed_at) before sending; rows already in the
        ledger are left as they are."""
        if rows:
            with _transaction(self.database, conn) as tx:
                tx.execute(self._claim_statement(), [{**row, "sent_at": None} for row in rows])

    def confirm_many(self, rows: list[dict[str, object]], conn: Connection | None = None) -> None:
        """Record (event_id, recipient_id, message_id, claimed_at, sent_at) as sent, claimed or not."""
        if rows:
            with _transaction(self.database, conn) as tx:
                tx.execute(self._confirm_statement(), rows)

    def release(self, pairs: Iterable[tuple[str, str]], conn: Connection | None = None) -> None:
        """Drop the unconfirmed claims of emails known not to have left (skipped, or refused)."""
        pairs = sorted(set(pairs))
        if pairs:
            with _transaction(self.database, conn) as tx:
                tx.execute(delete(deliveries).where(
                    tuple_(deliveries.c.event_id, deliveries.c.recipient_id).in_(pairs),
                    deliveries.c.sent_at.is_(None)))


class SqlFeed:
    """The members' notification feeds (`notifier_feed`) and the feeds closed for good."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def add_many(self, entries: list[FeedEntry]) -> int:
        """Write the entries not written yet, for members whose feed is open; in one transaction,
        so a redelivered event adds nothing and a batch lands whole or not at all.  Returns how
        many were new."""
        if not entries:
            return 0
        insert = (sqlite_insert if self.database.is_sqlite else postgresql_insert)(feed).on_conflict_do_nothing()
        with self.database.engine.begin() as conn:
            closed = set(conn.scalars(select(feed_closed.c.member_id).where(
                feed_closed.c.member_id.in_(sorted({e.recipient_id for e in entries})))))
            rows = [{"recipient_id": e.recipient_id, "event_id": e.event_id, "kind": e.kind,
                     "occurred_at": e.occurred_at, "relationship_id": e.relationship_id,
                     "counterpart_id": e.counterpart_id, "details": e.details, "read_at": None}
                    for e in entries if e.recipient_id not in closed]
            if not rows:
                return 0
            return conn.execute(insert, rows).rowcount

    def close(self, member_id: str, now: datetime, *, forget: bool) -> None:
        """No more entries for the member; `forget` deletes those kept (erasure)."""
        insert = (sqlite_insert if self.database.is_sqlite else postgresql_insert)(feed_closed)
        with self.database.engine.begin() as conn:
            conn.execute(insert.on_conflict_do_nothing(), {"member_id": member_id, "closed_at": now})
            if forget:
                conn.execute(delete(feed).where(feed.c.recipient_id == member_id))

    def page(self, recipient_id: str, *, unread_only: bool, after: tuple[datetime, str] | None,
             limit: int) -> tuple[list[FeedEntry], int]:
        """Newest first, from after `after` (occurred_at, event_id); and the unread count. One
        read transaction, so the count and the page agree."""
        query = select(feed).where(feed.c.recipient_id == recipient_id)
        if unread_only:
            query = query.where(feed.c.read_at.is_(None))
        if after is not None:
            query = query.where(tuple_(feed.c.occurred_at, feed.c.event_id) < tuple_(*after))
        query = query.order_by(feed.c.occurred_at.desc(), feed.c.event_id.desc()).limit(limit)
        unread = select(func.count()).select_from(feed).where(feed.c.recipient_id == recipient_id,
                                                               feed.c.read_at.is_(None))
        with self.database.engine.begin() as conn:
            rows = conn.execute(query).all()
            count = conn.execute(unread).scalar_one()
        return [_entry(row) for row in rows], count

    def get(self, recipient_id: str, event_id: str) -> FeedEntry | None:
        with self.database.engine.connect() as conn:
            row = conn.execute(select(feed).where(feed.c.recipient_id == recipient_id,
                                                  feed.c.event_id == event_id)).first()
        return None if row is None else _entry(row)

    def mark_read(self, recipient_id: str, event_ids: list[str], now: datetime) -> list[str]:
        """Mark the member's entries among `event_ids` read; returns the ids that are not theirs
        (then nothing is changed)."""
        with self.database.engine.begin() as conn:
            known = set(conn.scalars(select(feed.c.event_id).where(feed.c.recipient_id == recipient_id,
                                                                   feed.c.event_id.in_(event_ids))))
            unknown = [event_id for event_id in event_ids if event_id not in known]
            if not unknown:
                conn.execute(update(feed).where(feed.c.recipient_id == recipient_id, feed.c.event_id.in_(event_ids),
                                                feed.c.read_at.is_(None)).values(read_at=now))
        return unknown

    def mark_read_through(self, recipient_id: str, through: FeedEntry, now: datetime) -> None:
        """Mark `through` and every older entry read (never one that arrived after it)."""
        with self.database.engine.begin() as conn:
            conn.execute(update(feed).where(
                feed.c.recipient_id == recipient_id, feed.c.read_at.is_(None),
                tuple_(feed.c.occurred_at, feed.c.event_id) <= tuple_(through.occurred_at, through.event_id))
                .values(read_at=now))

    def unread_count(self, recipient_id: str) -> int:
        with self.database.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(feed).where(
                feed.c.recipient_id == recipient_id, feed.c.read_at.is_(None))).scalar_one()


def _entry(row: Any) -> FeedEntry:
    return FeedEntry(recipient_id=row.recipient_id, event_id=row.event_id, kind=row.kind,
                     occurred_at=utc(row.occurred_at), relationship_id=row.relationship_id,
                     counterpart_id=row.counterpart_id, details=row.details,
                     read_at=None if row.read_at is None else utc(row.read_at))
