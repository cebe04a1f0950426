"""The notifier's unit of work and the repositories it hands out.

`uow.directory` (the recipients directory, a projection of member events) and
`uow.deliveries` (the ledger of (event, recipient) emails) share the unit of
work's session, so whatever a use case writes to both commits together.  Use
cases never write SQL; repositories do.  The notifier records no events, so its
unit of work has no outbox.

A batch of records keeps one unit of work open over a connection of its own
(`NotifierUnitOfWork.kept`) and commits after each step: a claim must be
committed before its email is handed to the sender, a confirmation as soon as
the sender accepted it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import Connection, delete, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from connect.clock import Clock
from connect.db import Database
from connect.uow import SqlUnitOfWork
from services.notifier.adapters.orm import deliveries, members
from services.notifier.domain.recipients import Recipient

# The ledger's writes, built once per dialect: a new statement per email cost SQLAlchemy a
# cache-key walk each time.
_CLAIM = {name: insert(deliveries).on_conflict_do_nothing()
          for name, insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))}


def _confirm_statement(insert: Any) -> Any:
    statement = insert(deliveries)
    return statement.on_conflict_do_update(index_elements=[deliveries.c.event_id, deliveries.c.recipient_id],
                                           set_={"sent_at": statement.excluded.sent_at})


_CONFIRM = {"sqlite": _confirm_statement(sqlite_insert), "postgresql": _confirm_statement(postgresql_insert)}


def kept_connection(database: Database) -> Connection:
    """A connection a batch keeps for its short reads and ledger writes (a pool checkout per
    statement cost more than the statement). On PostgreSQL it autocommits: each statement used
    with it is atomic on its own, so it costs one round trip instead of three (BEGIN, statement,
    COMMIT or ROLLBACK) -- and a delivery's record follows the server's 250 that much sooner."""
    conn = database.engine.connect()
    if database.is_postgres:
        conn.execution_options(isolation_level="AUTOCOMMIT")
    return conn


def _recipient(row: Any) -> Recipient:
    return Recipient(row.member_id, row.name, row.email, active=row.active, erased=row.erased)


class RecipientDirectory:
    """Who the notifier can write to: names and addresses from member events."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, member_id: str) -> Recipient | None:
        row = self.session.execute(select(members).where(members.c.member_id == member_id)).first()
        return None if row is None else _recipient(row)

    def get_many(self, member_ids: set[str]) -> dict[str, Recipient]:
        if not member_ids:
            return {}
        rows = self.session.execute(select(members).where(members.c.member_id.in_(sorted(member_ids)))).all()
        return {row.member_id: _recipient(row) for row in rows}

    def put(self, member_id: str, now: datetime, **values: object) -> None:
        """Change the member's row, or add it with the directory's defaults.  Check-then-write in
        the unit of work's transaction; the primary key settles a concurrent insert (the consumer
        then retries the event and takes the update path)."""
        exists = self.session.execute(select(members.c.member_id).where(members.c.member_id == member_id)).first()
        if exists:
            self.session.execute(update(members).where(members.c.member_id == member_id)
                                 .values(updated_at=now, **values))
        else:
            row = {"name": None, "email": None, "active": True, "erased": False, **values}
            self.session.execute(members.insert().values(member_id=member_id, updated_at=now, **row))


class DeliveryLedger:
    """The ledger of (event, recipient) emails: a row is written as a claim before the email is
    handed to the sender (`sent_at` empty) and confirmed once the sender accepted it.  A claim
    still unconfirmed when its event comes back means the notifier stopped in between: whether
    that email left is unknown (docs/events.md, "Crashes")."""

    def __init__(self, session: Session, dialect: str) -> None:
        self.session = session
        self._claim = _CLAIM[dialect]
        self._confirm = _CONFIRM[dialect]

    def ledger_many(self, event_ids: Iterable[str]) -> dict[str, dict[str, bool]]:
        """Per event, each recipient in the ledger: True when their email was confirmed sent, False
        when it was only claimed.  One round trip for a whole polled batch."""
        wanted = sorted(set(event_ids))
        found: dict[str, dict[str, bool]] = {event_id: {} for event_id in wanted}
        if not wanted:
            return found
        for event_id, recipient_id, sent_at in self.session.execute(
                select(deliveries.c.event_id, deliveries.c.recipient_id, deliveries.c.sent_at)
                .where(deliveries.c.event_id.in_(wanted))):
            found[event_id][recipient_id] = sent_at is not None
        return found

    def claim_many(self, rows: list[dict[str, object]]) -> None:
        """Claim (event_id, recipient_id, message_id, claimed_at) before sending; rows already in the
        ledger are left as they are."""
        if rows:
            self.session.execute(self._claim, [{**row, "sent_at": None} for row in rows])

    def confirm_many(self, rows: list[dict[str, object]]) -> None:
        """Record (event_id, recipient_id, message_id, claimed_at, sent_at) as sent, claimed or not."""
        if rows:
            self.session.execute(self._confirm, rows)

    def release(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Drop the unconfirmed claims of emails known not to have left (skipped, or refused)."""
        pairs = sorted(set(pairs))
        if pairs:
            self.session.execute(delete(deliveries).where(
                tuple_(deliveries.c.event_id, deliveries.c.recipient_id).in_(pairs),
                deliveries.c.sent_at.is_(None)))


class NotifierUnitOfWork(SqlUnitOfWork):
    """`with uow:` → `uow.directory`, `uow.deliveries` on `uow.session`; `uow.commit()` commits both."""

    directory: RecipientDirectory
    deliveries: DeliveryLedger

    def __init__(self, database: Database, clock: Clock, connection: Connection | None = None) -> None:
        super().__init__(database, None, clock)
        self.connection = connection

    @classmethod
    def kept(cls, database: Database, clock: Clock) -> "NotifierUnitOfWork":
        """A unit of work on a connection of its own (`kept_connection`), for a batch that commits
        step by step; `close()` lets the connection go."""
        return cls(database, clock, kept_connection(database))

    def open_session(self) -> Session:
        if self.connection is None:
            return super().open_session()
        return Session(bind=self.connection, expire_on_commit=False)

    def __enter__(self) -> "NotifierUnitOfWork":
        super().__enter__()
        self.directory = RecipientDirectory(self.session)
        self.deliveries = DeliveryLedger(self.session, "sqlite" if self.database.is_sqlite else "postgresql")
        return self

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None
