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

from connect.events import PoisonMessage, Record, UnknownTypes, decode_event
from schemas.events import (AccountDeleted, MemberDetailsChanged, MemberErased, MentorAvailabilityChanged,
                            MentorProfileChanged)
from services.matching.adapters.repository import MatchingUnitOfWork
from services.matching.domain.profiles import load_level
from services.matching.services import MatchingService

log = logging.getLogger(__name__)


_REFRESHES = (MentorProfileChanged, MentorAvailabilityChanged, MemberDetailsChanged)


class IndexerHandler:
    def __init__(self, service: MatchingService) -> None:
        self.service = service

    def handle_records(self, records: list[Record]) -> list[Record]:
        """The batch fast path (ConsumerLoop's `batch_handler`): every member a batch's profile,
        availability and details events name is refreshed once, in one index write, so a
        backlog (the demo seed's 550 events on a first start) takes a few writes instead of
        hundreds and a fresh change does not wait behind it.  Returns the records left for the
        one-record path: deletions and erasures (they change the database first, then refresh,
        so refreshing their members here as well does no harm) and records that do not decode."""
        members: dict[str, None] = {}
        undone: list[Record] = []
        for record in records:
            try:
                decoded = decode_event(record.value, UnknownTypes.SKIP)
            except PoisonMessage:
                undone.append(record)  # the one-record path dead-letters it
                continue
            if decoded is None:
                continue
            if isinstance(decoded.event, _REFRESHES):
                members[decoded.event.member_id] = None
            else:
                undone.append(record)
        if members:
            self.service.refresh_index(list(members))
        return undone

    def __call__(self, record: Record) -> None:
        decoded = decode_event(record.value, UnknownTypes.SKIP)
        if decoded is None:
            return
        event = decoded.event
        if isinstance(event, AccountDeleted):
            self.service.mark_inactive(event.member_id)
            self.service.refresh_index([event.member_id])
        elif isinstance(event, MemberErased):
            mentored = self.service.erase_member(event.member_id)
            self.service.refresh_index([event.member_id])
            if mentored:
                self.service.purge_index()
        elif isinstance(event, _REFRESHES):
            self.service.refresh_index([event.member_id])


class RelationshipProjector:
    """Projects the moves of the relationships' state machine (the event types say which
    events move it, and where to: `schemas.events`); other relationship events are passed over."""

    def __init__(self, service: MatchingService) -> None:
        self.service = service

    def __call__(self, record: Record) -> None:
        decoded = decode_event(record.value, UnknownTypes.SKIP)
        if decoded is None:
            return
        event = decoded.event
        if not getattr(event, "MOVES_STATUS", False):
            return
        mentor_id = self._apply(event, event.STATUS_AFTER, decoded.envelope.occurred_at)  # type: ignore[union-attr]
        if mentor_id is not None:
            self.service.refresh_index([mentor_id])

    def _apply(self, event: Any, status: str, at: datetime) -> str | None:
        """Store the new status; returns the mentor id when their load level changed."""
        with self.service.uow() as uow:
            before = self._level(uow, event.mentor_id)
            row = uow.relationships.get(event.relationship_id, for_update=True)
            values: dict[str, Any] = {"status": status, "updated_at": at}
            if event.ANSWERS_PROPOSAL:
                values["answered_at"] = at
            if event.STARTS_PROPOSAL:
                values.update(proposed_at=at, answered_at=None)
            if row is None:
                uow.relationships.add(event.relationship_id, event.mentor_id, event.mentee_id,
                                      proposed_at=values.pop("proposed_at", at), **values)
            else:
                uow.relationships.change(event.relationship_id, **values)
            after = self._level(uow, event.mentor_id)
            if before != after:
                uow.profiles.touch_mentor(event.mentor_id, self.service.clock.now())
            uow.commit()
        return event.mentor_id if before != after else None

    @staticmethod
    def _level(uow: MatchingUnitOfWork, mentor_id: str) -> int:
        statuses = uow.relationships.open_statuses_of_mentor(mentor_id)
        pending = sum(1 for status in statuses if status == "pending")
        return load_level(pending, len(statuses) - pending)
