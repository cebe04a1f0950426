"""Reading and writing the workspace's aggregates (meetings, tools) and records
(messages, nudges, learning notes) inside the relationships unit of work's
session (`uow.workspace`), so each change commits with its events and the
relationship row it checked."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from connect.clock import utc
from services.relationships.adapters import orm
from services.relationships.workspace.domain import (Meeting, MeetingDetails, MeetingStatus, Tool, ToolKind,
                                                     ToolVersion)


def _aware(value: datetime | None) -> datetime | None:
    return utc(value) if value is not None else None


def _meeting(row: Any) -> Meeting:
    details = MeetingDetails(starts_at=utc(row.starts_at), duration_minutes=row.duration_minutes, mode=row.mode,
                             location_or_link=row.location_or_link, agenda=row.agenda, time_zone=row.time_zone)
    return Meeting(row.id, row.relationship_id, row.organiser_id, details, MeetingStatus(row.status), row.sequence,
                   utc(row.created_at), utc(row.updated_at))


class WorkspaceRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- meetings -----------------------------------------------------------------------
    def meeting(self, relationship_id: str, meeting_id: str) -> Meeting | None:
        row = self.session.execute(select(orm.meetings).where(orm.meetings.c.id == meeting_id,
                                                            orm.meetings.c.relationship_id == relationship_id)).first()
        return _meeting(row) if row else None

    def meetings(self, relationship_ids: list[str], *, scheduled_only: bool = False,
                 starting_after: datetime | None = None, after: tuple[datetime, str] | None = None,
                 limit: int | None = None) -> list[Meeting]:
        """In time order; from after `after` (starts_at, id) and at most `limit` when given."""
        if not relationship_ids:
            return []
        table = orm.meetings
        query = select(table).where(table.c.relationship_id.in_(relationship_ids))
        if scheduled_only:
            query = query.where(table.c.status == MeetingStatus.SCHEDULED.value)
        if starting_after is not None:
            query = query.where(table.c.starts_at > starting_after)
        if after is not None:
            query = query.where(or_(table.c.starts_at > after[0],
                                    and_(table.c.starts_at == after[0], table.c.id > after[1])))
        query = query.order_by(table.c.starts_at, table.c.id)
        if limit is not None:
            query = query.limit(limit)
        return [_meeting(row) for row in self.session.execute(query)]

    def add_meeting(self, meeting: Meeting) -> None:
        d = meeting.details
        self.session.execute(orm.meetings.insert().values(
            id=meeting.id, relationship_id=meeting.relationship_id, organiser_id=meeting.organiser_id,
            starts_at=d.starts_at, duration_minutes=d.duration_minutes, mode=d.mode,
            location_or_link=d.location_or_link, agenda=d.agenda, time_zone=d.time_zone,
            status=meeting.status.value, sequence=meeting.sequence, created_at=meeting.created_at,
            updated_at=meeting.updated_at))

    def save_meeting(self, meeting: Meeting) -> None:
        d = meeting.details
        self.session.execute(update(orm.meetings).where(orm.meetings.c.id == meeting.id).values(
            starts_at=d.starts_at, duration_minutes=d.duration_minutes, mode=d.mode,
            location_or_link=d.location_or_link, agenda=d.agenda, time_zone=d.time_zone,
            status=meeting.status.value, sequence=meeting.sequence, updated_at=meeting.updated_at))

    # --- tools ----------------------------------------------------------------------------
    def _tools(self, where: Any, limit: int | None = None) -> list[Tool]:
        query = (select(orm.tools, orm.tool_versions.c.content, orm.tool_versions.c.author_id,
                        orm.tool_versions.c.created_at.label("version_at"))
                 .join(orm.tool_versions, and_(orm.tool_versions.c.tool_id == orm.tools.c.id,
                                               orm.tool_versions.c.version == orm.tools.c.version))
                 .where(where).order_by(orm.tools.c.created_at, orm.tools.c.id))
        rows = self.session.execute(query if limit is None else query.limit(limit)).all()
        return [Tool(row.id, row.relationship_id, ToolKind(row.kind),
                     ToolVersion(row.version, dict(row.content), row.author_id, utc(row.version_at)),
                     utc(row.created_at)) for row in rows]

    def tool(self, relationship_id: str, kind: ToolKind, tool_id: str) -> Tool | None:
        found = self._tools(and_(orm.tools.c.id == tool_id, orm.tools.c.relationship_id == relationship_id,
                                 orm.tools.c.kind == kind.value))
        return found[0] if found else None

    def tools(self, relationship_id: str, kind: ToolKind | None = None, *, after: tuple[datetime, str] | None = None,
              limit: int | None = None) -> list[Tool]:
        """Oldest first; from after `after` (created_at, id) and at most `limit` when given."""
        table = orm.tools
        where = table.c.relationship_id == relationship_id
        if kind is not None:
            where = and_(where, table.c.kind == kind.value)
        if after is not None:
            where = and_(where, or_(table.c.created_at > after[0],
                                    and_(table.c.created_at == after[0], table.c.id > after[1])))
        return self._tools(where, limit)

    def tools_of(self, relationship_ids: list[str], kind: ToolKind) -> list[Tool]:
        if not relationship_ids:
            return []
        return self._tools(and_(orm.tools.c.relationship_id.in_(relationship_ids), orm.tools.c.kind == kind.value))

    def tool_history(self, tool_id: str) -> list[ToolVersion]:
        rows = self.session.execute(select(orm.tool_versions).where(orm.tool_versions.c.tool_id == tool_id)
                                    .order_by(orm.tool_versions.c.version)).all()
        return [ToolVersion(r.version, dict(r.content), r.author_id, utc(r.created_at)) for r in rows]

    def save_tool(self, tool: Tool, *, new: bool) -> None:
        if new:
            self.session.execute(orm.tools.insert().values(
                id=tool.id, relationship_id=tool.relationship_id, kind=tool.kind.value,
                version=tool.current.number, created_at=tool.created_at, updated_at=tool.current.at))
        else:
            self.session.execute(update(orm.tools).where(orm.tools.c.id == tool.id)
                                 .values(version=tool.current.number, updated_at=tool.current.at))
        if tool.new_versions:
            self.session.execute(orm.tool_versions.insert(), [
                {"tool_id": tool.id, "version": v.number, "content": v.content, "author_id": v.author_id,
                 "created_at": v.at} for v in tool.new_versions])
            tool.new_versions = []

    # --- messages -----------------------------------------------------------------------
    def add_message(self, message_id: str, relationship_id: str, sender_id: str, recipient_id: str, body: str,
                    at: datetime, emailed: bool) -> None:
        self.session.execute(orm.messages.insert().values(
            id=message_id, relationship_id=relationship_id, sender_id=sender_id, recipient_id=recipient_id,
            body=body, sent_at=at, read_at=None, emailed=emailed))

    def email_outstanding(self, relationship_id: str, recipient_id: str, since: datetime) -> bool:
        """An unread message to this recipient whose email went out after `since`."""
        return self.session.execute(
            select(orm.messages.c.id).where(
                orm.messages.c.relationship_id == relationship_id, orm.messages.c.recipient_id == recipient_id,
                orm.messages.c.read_at.is_(None), orm.messages.c.emailed.is_(True), orm.messages.c.sent_at > since)
            .limit(1)).first() is not None

    def messages_page(self, relationship_id: str, before: tuple[datetime, str] | None, limit: int) -> list[Any]:
        query = select(orm.messages).where(orm.messages.c.relationship_id == relationship_id)
        if before is not None:
            at, message_id = before
            query = query.where(or_(orm.messages.c.sent_at < at,
                                    and_(orm.messages.c.sent_at == at, orm.messages.c.id < message_id)))
        return self.session.execute(query.order_by(orm.messages.c.sent_at.desc(), orm.messages.c.id.desc())
                                    .limit(limit + 1)).all()

    def mark_read(self, message_ids: list[str], reader_id: str, at: datetime) -> None:
        if message_ids:
            self.session.execute(update(orm.messages).where(
                orm.messages.c.id.in_(message_ids), orm.messages.c.recipient_id == reader_id,
                orm.messages.c.read_at.is_(None)).values(read_at=at))

    def unread_counts(self, member_id: str, relationship_ids: list[str]) -> dict[str, int]:
        if not relationship_ids:
            return {}
        rows = self.session.execute(
            select(orm.messages.c.relationship_id, func.count())
            .where(orm.messages.c.recipient_id == member_id, orm.messages.c.read_at.is_(None),
                   orm.messages.c.relationship_id.in_(relationship_ids))
            .group_by(orm.messages.c.relationship_id)).all()
        return {row[0]: row[1] for row in rows}

    def last_active(self, relationship_id: str, member_id: str) -> datetime | None:
        """The latest thing the member did in this relationship's workspace (or its status history)."""
        candidates = [
            select(func.max(orm.messages.c.sent_at)).where(orm.messages.c.relationship_id == relationship_id,
                                                         orm.messages.c.sender_id == member_id),
            select(func.max(orm.meetings.c.updated_at)).where(orm.meetings.c.relationship_id == relationship_id,
                                                            orm.meetings.c.organiser_id == member_id),
            select(func.max(orm.tool_versions.c.created_at))
            .join(orm.tools, orm.tools.c.id == orm.tool_versions.c.tool_id)
            .where(orm.tools.c.relationship_id == relationship_id, orm.tool_versions.c.author_id == member_id),
            select(func.max(orm.status_history.c.at)).where(orm.status_history.c.relationship_id == relationship_id,
                                                            orm.status_history.c.actor_id == member_id),
        ]
        values = [_aware(self.session.execute(query).scalar()) for query in candidates]
        present = [v for v in values if v is not None]
        return max(present) if present else None

    def last_active_many(self, relationship_ids: list[str]) -> dict[tuple[str, str], datetime]:
        """`last_active` for every member of many relationships at once: (relationship, member) -> time."""
        if not relationship_ids:
            return {}
        history = orm.status_history
        queries = [
            select(orm.messages.c.relationship_id, orm.messages.c.sender_id, func.max(orm.messages.c.sent_at))
            .where(orm.messages.c.relationship_id.in_(relationship_ids))
            .group_by(orm.messages.c.relationship_id, orm.messages.c.sender_id),
            select(orm.meetings.c.relationship_id, orm.meetings.c.organiser_id, func.max(orm.meetings.c.updated_at))
            .where(orm.meetings.c.relationship_id.in_(relationship_ids))
            .group_by(orm.meetings.c.relationship_id, orm.meetings.c.organiser_id),
            select(orm.tools.c.relationship_id, orm.tool_versions.c.author_id, func.max(orm.tool_versions.c.created_at))
            .join(orm.tools, orm.tools.c.id == orm.tool_versions.c.tool_id)
            .where(orm.tools.c.relationship_id.in_(relationship_ids))
            .group_by(orm.tools.c.relationship_id, orm.tool_versions.c.author_id),
            select(history.c.relationship_id, history.c.actor_id, func.max(history.c.at))
            .where(history.c.relationship_id.in_(relationship_ids), history.c.actor_id.isnot(None))
            .group_by(history.c.relationship_id, history.c.actor_id),
        ]
        latest: dict[tuple[str, str], datetime] = {}
        for query in queries:
            for relationship_id, member_id, at in self.session.execute(query):
                if at is None:
                    continue
                at = utc(at)
                key = (relationship_id, member_id)
                if key not in latest or at > latest[key]:
                    latest[key] = at
        return latest

    def last_activity(self, relationship_ids: list[str]) -> dict[str, datetime]:
        """The latest thing either party did in each relationship (message, meeting, tool, move)."""
        latest: dict[str, datetime] = {}
        for (relationship_id, _member_id), at in self.last_active_many(relationship_ids).items():
            latest[relationship_id] = max(at, latest.get(relationship_id, at))
        return latest

    def last_nudges(self, relationship_ids: list[str]) -> dict[tuple[str, str], datetime]:
        if not relationship_ids:
            return {}
        rows = self.session.execute(
            select(orm.nudges.c.relationship_id, orm.nudges.c.sender_id, func.max(orm.nudges.c.at))
            .where(orm.nudges.c.relationship_id.in_(relationship_ids))
            .group_by(orm.nudges.c.relationship_id, orm.nudges.c.sender_id))
        return {(r[0], r[1]): utc(r[2]) for r in rows if r[2] is not None}

    # --- nudges -------------------------------------------------------------------------
    def last_nudge(self, relationship_id: str, sender_id: str) -> datetime | None:
        return _aware(self.session.execute(select(func.max(orm.nudges.c.at)).where(
            orm.nudges.c.relationship_id == relationship_id, orm.nudges.c.sender_id == sender_id)).scalar())

    def add_nudge(self, nudge_id: str, relationship_id: str, sender_id: str, recipient_id: str,
                  at: datetime) -> None:
        self.session.execute(orm.nudges.insert().values(id=nudge_id, relationship_id=relationship_id,
                                                      sender_id=sender_id, recipient_id=recipient_id, at=at))

    # --- learning notes (each party's own, private) --------------------------------------
    def learning_note(self, relationship_id: str, member_id: str) -> Any | None:
        notes = orm.learning_notes
        return self.session.execute(select(notes).where(notes.c.relationship_id == relationship_id,
                                                        notes.c.member_id == member_id)).first()

    def save_learning_note(self, relationship_id: str, member_id: str, outcomes: str, at: datetime) -> None:
        notes = orm.learning_notes
        where = (notes.c.relationship_id == relationship_id, notes.c.member_id == member_id)
        if self.session.execute(select(notes.c.member_id).where(*where)).first() is None:
            self.session.execute(notes.insert().values(relationship_id=relationship_id, member_id=member_id,
                                                       outcomes=outcomes, updated_at=at))
        else:
            self.session.execute(update(notes).where(*where).values(outcomes=outcomes, updated_at=at))

    def learning_notes_of(self, member_id: str) -> dict[str, str]:
        notes = orm.learning_notes
        return {row.relationship_id: row.outcomes for row in self.session.execute(
            select(notes.c.relationship_id, notes.c.outcomes).where(notes.c.member_id == member_id))}

    def message_senders(self, relationship_id: str) -> Sequence[Any]:
        """(sender_id, sent_at) of every message in the relationship: counts, never bodies."""
        messages = orm.messages
        return self.session.execute(select(messages.c.sender_id, messages.c.sent_at)
                                    .where(messages.c.relationship_id == relationship_id)).all()
