"""The member projection: what the relationships service knows of members, kept from
their tokens (name, email) and from matching's events (mentor profile, availability,
deleted and erased accounts).  Proposals read it to refuse an unavailable mentor; the
views read names from it; expired proposals fall back on it for alternatives.

Every write is an idempotent upsert of the latest facts, so a redelivered event or a
repeated token does no harm.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from connect.auth import Member
from connect.clock import Clock
from schemas.events import (AccountDeleted, EventData, MemberDetailsChanged, MemberErased, MentorAvailabilityChanged,
                            MentorProfileChanged)
from services.relationships.adapters.repository import RelationshipsUnitOfWork


def projected_values(event: EventData) -> dict[str, Any] | None:
    """The member's columns an event sets; None for an event the projection does not use."""
    if isinstance(event, MemberDetailsChanged):
        return {"name": event.name, "email": event.email}
    if isinstance(event, MentorProfileChanged):
        return {"is_mentor": True, "available": event.available, "expertise": list(event.expertise)}
    if isinstance(event, MentorAvailabilityChanged):
        return {"is_mentor": True, "available": event.available}
    if isinstance(event, AccountDeleted):
        return {"active": False, "available": False}
    if isinstance(event, MemberErased):
        return {"name": None, "email": None, "active": False, "available": False}
    return None


class MemberDirectory:
    def __init__(self, uow: Callable[[], RelationshipsUnitOfWork], clock: Clock) -> None:
        self.uow = uow
        self.clock = clock
        # Names and emails last written from tokens, so an unchanged caller costs no write.
        self._seen: dict[str, tuple[str, str]] = {}
        self._seen_lock = threading.Lock()

    def member_seen(self, member: Member) -> None:
        """Authenticator hook: the caller's name and email come from their token."""
        details = (member.name, member.email)
        with self._seen_lock:
            if self._seen.get(member.id) == details:
                return
        values = {"name": member.name, "email": member.email}
        self._upsert(member.id, values)
        with self._seen_lock:
            self._seen[member.id] = details

    def knows_details(self, member: Member) -> bool:
        """Settles `member_seen` from memory: the directory already holds this name and email."""
        return self._seen.get(member.id) == (member.name, member.email)

    def project(self, event: EventData) -> None:
        """Apply one of matching's member or profile events; others are not ours."""
        member_id = getattr(event, "member_id", None)
        values = projected_values(event) if member_id is not None else None
        if values is None:
            return
        self._upsert(member_id, values)
        with self._seen_lock:
            self._seen.pop(member_id, None)

    def _upsert(self, member_id: str, values: dict[str, Any]) -> None:
        with self.uow() as uow:
            uow.members.upsert(member_id, values, values, self.clock.now())
            uow.commit()
