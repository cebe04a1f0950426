"""Matching use cases."""

from __future__ import annotations

import threading
from typing import Callable

from sqlalchemy import select

from connect.auth import Member
from connect.clock import Clock
from connect.db import Database
from connect.outbox import Outbox
from connect.uow import SqlUnitOfWork
from schemas.events import MemberDetailsChanged
from services.matching.adapters import orm


class MatchingService:
    def __init__(self, database: Database, clock: Clock, after_commit: Callable[[], None] | None = None) -> None:
        self.database = database
        self.clock = clock
        self.outbox = Outbox(orm.outbox, producer="matching")
        self.after_commit = after_commit
        # Remembers what was last written so an unchanged caller costs no write.
        self._known: dict[str, tuple[str, str]] = {}
        self._known_lock = threading.Lock()

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.database, self.outbox, self.clock, self.after_commit)

    def member_seen(self, member: Member) -> None:
        """Refresh the member directory from token claims; publish a change once."""
        details = (member.name, member.email)
        with self._known_lock:
            if self._known.get(member.id) == details:
                return
        with self.uow() as uow:
            row = uow.session.execute(
                select(orm.members).where(orm.members.c.member_id == member.id).with_for_update()
            ).first()
            now = self.clock.now()
            if row is None:
                uow.session.execute(orm.members.insert().values(
                    member_id=member.id, name=member.name, email=member.email, active=True, updated_at=now))
            elif (row.name, row.email) != details:
                uow.session.execute(orm.members.update().where(orm.members.c.member_id == member.id)
                                    .values(name=member.name, email=member.email, updated_at=now))
            if row is None or (row.name, row.email) != details:
                uow.record(MemberDetailsChanged(member_id=member.id, name=member.name, email=member.email))
            uow.commit()
        with self._known_lock:
            self._known[member.id] = details

    def get_member(self, member_id: str) -> dict | None:
        with self.database.session() as session:
            row = session.execute(select(orm.members).where(orm.members.c.member_id == member_id)).first()
            return dict(row._mapping) if row else None
