"""Relationships use cases."""

from __future__ import annotations

from typing import Callable

from connect.clock import Clock
from connect.db import Database
from connect.outbox import Outbox
from connect.uow import SqlUnitOfWork
from services.relationships.adapters import orm


class RelationshipsService:
    def __init__(self, database: Database, clock: Clock, after_commit: Callable[[], None] | None = None) -> None:
        self.database = database
        self.clock = clock
        self.outbox = Outbox(orm.outbox, producer="relationships")
        self.after_commit = after_commit

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.database, self.outbox, self.clock, self.after_commit)
