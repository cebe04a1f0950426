"""The unit of work owns the transaction and the events recorded in it.

A service's handler changes aggregates and records events inside `with uow:`;
`commit()` writes every collected event to the service's outbox in the same
transaction as the change, so either both are stored or neither is.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable, Iterable, Protocol, Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

from connect.clock import Clock
from connect.db import Database
from connect.outbox import Outbox
from schemas.events import Envelope, EventData


class Receipt(Protocol):
    """What a caller must keep together with a change, in the change's own transaction, made
    from the use case's result: the HTTP edge's stored answer to an idempotent request.  The
    use case hands its result over and knows nothing of what is made of it."""

    def write(self, session: Session, result: Any) -> None: ...


class SqlUnitOfWork:
    def __init__(self, database: Database, outbox: Outbox | None, clock: Clock,
                 after_commit: Callable[[], None] | None = None, *, read_only: bool = False) -> None:
        self.database = database
        #: Reads only (`Database.session(read_only=True)`): it never commits, so it takes no write lock.
        self.read_only = read_only
        self.outbox = outbox
        self.clock = clock
        self.after_commit = after_commit
        self.session: Session
        self._events: list[tuple[EventData, uuid.UUID | None]] = []
        self.published: list[Envelope] = []
        self._committed = False

    def __enter__(self) -> "SqlUnitOfWork":
        self.session = self.open_session()
        self.session.begin()
        self._events = []
        self.published = []
        self._committed = False
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self._committed:
            self.session.rollback()
        self.session.close()

    def open_session(self) -> Session:
        """A pooled session; a subclass may bind one to a connection it keeps."""
        return self.database.session(read_only=self.read_only)

    def record(self, event: EventData, event_id: uuid.UUID | None = None) -> None:
        """Queue an event to be written with this transaction (a fixed id makes it idempotent)."""
        self._events.append((event, event_id))

    def keep(self, receipt: Receipt | None, result: Any) -> None:
        """Let the caller's receipt store what it makes of `result` in this transaction (call before commit)."""
        if receipt is not None:
            receipt.write(self.session, result)

    def zero_freed_space(self) -> None:
        """Before an erasure on SQLite: freed and overwritten cells are zeroed, not left readable
        in the file's free space (PostgreSQL's dead tuples go with vacuum)."""
        if self.database.is_sqlite:
            self.session.execute(text("PRAGMA secure_delete=ON"))

    def forget_sent(self, keys: Sequence[str]) -> None:
        """Delete this service's already relayed events of these keys (an erasure), in this transaction."""
        assert self.outbox is not None, "a service without an outbox has no sent events to forget"
        self.outbox.forget_sent(self.session, keys)

    def collect_new_events(self) -> Iterable[EventData]:
        """Services override this to gather events their aggregates recorded."""
        return ()

    def commit(self) -> None:
        self.refuse_if_read_only()
        now = self.clock.now()
        for event in self.collect_new_events():
            self._events.append((event, None))
        if self._events and self.outbox is None:
            raise RuntimeError(f"the {self.database.service} service has no outbox to record events in")
        for event, event_id in self._events:
            self.published.append(self.outbox.add(self.session, event, now, event_id))
        self.session.commit()
        self._committed = True
        self._events = []
        if self.after_commit is not None and self.published:
            self.after_commit()

    def refuse_if_read_only(self) -> None:
        if self.read_only:
            raise RuntimeError("a read-only unit of work does not commit: open a writing one for a change")

    def rollback(self) -> None:
        self.session.rollback()
        self._events = []
