"""What the matching service runs outside a request: its event consumers.

* `matching-indexer` (role indexer) reads profile and member events and brings
  the mentor's index entry in line with the database; the event only says *who*
  changed, the database says *what* is true now, so duplicates and reordering
  across members do no harm.
* `matching-relationships` (role indexer) keeps the local projection of
  relationships (for the "already in touch" flag, the load nudge and the
  profile page's response figures) and re-indexes the mentor whose load changed.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from connect.events import PoisonMessage, Record
from schemas.events import (AccountDeleted, Envelope, EventData, MemberDetailsChanged, MemberErased,
                            MentorAvailabilityChanged, MentorProfileChanged, ProposalAccepted, ProposalExpired,
                            ProposalRejected, ProposalReopened, ProposalSent, ProposalWithdrawn,
                            RelationshipCompleted, RelationshipWithdrawn, UnknownEvent)
from services.matching.adapters import orm
from services.matching.domain.profiles import load_level
from services.matching.services import OPEN_STATUSES, MatchingService

log = logging.getLogger(__name__)

STATUS_AFTER = {
    ProposalSent: "pending",
    ProposalReopened: "pending",
    ProposalAccepted: "accepted",
    ProposalRejected: "rejected",
    ProposalWithdrawn: "withdrawn",
    RelationshipWithdrawn: "withdrawn",
    ProposalExpired: "expired",
    RelationshipCompleted: "completed",
}
ANSWERS = (ProposalAccepted, ProposalRejected)


def decode(record: Record) -> tuple[Envelope, EventData] | None:
    """The typed event, or None for a type this service does not know (skipped, per the contract)."""
    try:
        envelope = Envelope.from_bytes(record.value)
    except ValidationError as exc:
        raise PoisonMessage(f"undecodable envelope: {exc}") from exc
    try:
        return envelope, envelope.payload()
    except UnknownEvent:
        return None
    except ValidationError as exc:
        raise PoisonMessage(f"invalid {envelope.type} payload: {exc}") from exc


class IndexerHandler:
    def __init__(self, service: MatchingService) -> None:
        self.service = service

    def __call__(self, record: Record) -> None:
        decoded = decode(record)
        if decoded is None:
            return
        _envelope, event = decoded
        if isinstance(event, AccountDeleted):
            self.service.mark_inactive(event.member_id)
            self.service.refresh_index([event.member_id])
        elif isinstance(event, MemberErased):
            mentored = self.service.erase_member(event.member_id)
            self.service.refresh_index([event.member_id])
            if mentored:
                self.service.purge_index()
        elif isinstance(event, (MentorProfileChanged, MentorAvailabilityChanged, MemberDetailsChanged)):
            self.service.refresh_index([event.member_id])


class RelationshipProjector:
    def __init__(self, service: MatchingService) -> None:
        self.service = service

    def __call__(self, record: Record) -> None:
        decoded = decode(record)
        if decoded is None:
            return
        envelope, event = decoded
        status = STATUS_AFTER.get(type(event))
        if status is None:
            return
        mentor_id = self._apply(event, status, envelope.occurred_at)
        if mentor_id is not None:
            self.service.refresh_index([mentor_id])

    def _apply(self, event: Any, status: str, at: datetime) -> str | None:
        """Store the new status; returns the mentor id when their load level changed."""
        table = orm.relationships
        service = self.service
        with service.database.session() as session, session.begin():
            before = self._level(session, event.mentor_id)
            row = session.execute(select(table).where(table.c.relationship_id == event.relationship_id)
                                  .with_for_update()).first()
            values: dict[str, Any] = {"status": status, "updated_at": at}
            if isinstance(event, ANSWERS):
                values["answered_at"] = at
            if isinstance(event, (ProposalSent, ProposalReopened)):
                values.update(proposed_at=at, answered_at=None)
            if row is None:
                session.execute(table.insert().values(
                    relationship_id=event.relationship_id, mentor_id=event.mentor_id, mentee_id=event.mentee_id,
                    proposed_at=values.pop("proposed_at", at), **values))
            else:
                session.execute(table.update().where(table.c.relationship_id == event.relationship_id)
                                .values(**values))
            after = self._level(session, event.mentor_id)
            if before == after:
                return None
            session.execute(orm.mentor_profiles.update()
                            .where(orm.mentor_profiles.c.member_id == event.mentor_id)
                            .values(changed_at=service.clock.now()))
            return event.mentor_id

    @staticmethod
    def _level(session: Any, mentor_id: str) -> int:
        rows = session.execute(select(orm.relationships.c.status).where(
            orm.relationships.c.mentor_id == mentor_id, orm.relationships.c.status.in_(OPEN_STATUSES))).all()
        pending = sum(1 for r in rows if r.status == "pending")
        return load_level(pending, len(rows) - pending)
