"""The relationships service's facade: its rooms, as the composition root, the CLI,
the consumers and the tests reach them.

    proposals/   sending, the state machine's moves, details and lists, the timers
    workspace/   meetings, the first conversation and its tools, messages, nudges, dashboard
    account/     deletion, support requests, erasure, the CPD record
    members/     the member projection (from tokens and matching's events)

Every room's use cases share one unit of work (`adapters/repository.py`) and one
database, so a change in any room commits with its events.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable

from connect.clock import Clock
from connect.db import Database
from connect.outbox import Outbox
from services.relationships.account.services import AccountService
from services.relationships.adapters import orm
from services.relationships.adapters.idempotency import IdempotencyStore
from services.relationships.adapters.repository import RelationshipsUnitOfWork
from services.relationships.interfaces import MentorFacts, MentorSuggestions, SharedConnections
from services.relationships.members.services import MemberDirectory
from services.relationships.proposals.services import ProposalsService, SweepReport
from services.relationships.workspace.services import WorkspaceService

log = logging.getLogger(__name__)


class RelationshipsService:
    def __init__(self, database: Database, clock: Clock, after_commit: Callable[[], None] | None = None,
                 suggestions: MentorSuggestions | None = None, connections: SharedConnections | None = None,
                 mentors: MentorFacts | None = None) -> None:
        self.database = database
        self.clock = clock
        self.outbox = Outbox(orm.outbox, producer="relationships")
        self.after_commit = after_commit
        self.idempotency = IdempotencyStore(database, clock)
        self.members = MemberDirectory(self.uow, clock)
        self.proposals = ProposalsService(self.uow, clock, suggestions, mentors, reader=self.reader)
        self.workspace = WorkspaceService(self.uow, clock, self.proposals, connections, reader=self.reader)
        self.account = AccountService(self.uow, database, clock)

    def uow(self) -> RelationshipsUnitOfWork:
        return RelationshipsUnitOfWork(self.database, self.outbox, self.clock, self.after_commit)

    def reader(self) -> RelationshipsUnitOfWork:
        """A unit of work for a use case that only reads (details, lists, the dashboard): on SQLite
        it takes no write lock, so a page's reads run side by side and never queue behind writers."""
        return RelationshipsUnitOfWork(self.database, self.outbox, self.clock, read_only=True)

    def send_due_reminders(self, now: datetime | None = None, batch_size: int = 500) -> SweepReport:
        """Every timer due at `now` (`connect sweep`), then forget idempotency keys past their retention."""
        report = self.proposals.send_due_reminders(now, batch_size)
        self.idempotency.purge()
        return report

    def sweep(self) -> SweepReport:
        """The periodic job "relationships.sweep"."""
        report = self.send_due_reminders()
        if report.batches:
            log.info("relationships sweep: %s", report.as_dict())
        return report
