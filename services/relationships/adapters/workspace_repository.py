"""Reading and writing the workspace's aggregates (meetings, tools) and records
(messages, nudges, support requests) inside the relationships unit of work's
session, so each change commits with its events and the relationship row it
checked."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from connect.clock import utc
from services.relationships.adapters import orm
from services.relationships.adapters import orm_workspace as t
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
        row = self.session.execute(select(t.meetings).where(t.meetings.c.id == meeting_id,
                                                            t.meetings.c.relationship_id == relationship_id)).first()
        return _meeting(row) if row else None

    def meetings(self, relationship_ids: list[str], *, scheduled_only: bool = False,
                 starting_after: datetime | None = None) -> list[Meeting]:
        if not relationship_ids:
            return []
        query = select(t.meetings).where(t.meetings.c.relationship_id.in_(relationship_ids))
        if scheduled_only:
            query = query.where(t.meetings.c.status == MeetingStatus.SCHEDULED.value)
        if starting_after is not None:
            query = query.where(t.meetings.c.starts_at > starting_after)
        return [_meeting(row) for row in self.session.execute(query.order_by(t.meetings.c.starts_at, t.meetings.c.id))]

    def add_meeting(self, meeting: Meeting) -> None:
        d = meeting.details
        self.session.execute(t.meetings.insert().values(
            id=meeting.id, relationship_id=meeting.relationship_id, organiser_id=meeting.organiser_id,
            starts_at=d.starts_at, duration_minutes=d.duration_minutes, mode=d.mode,
            location_or_link=d.location_or_link, agenda=d.agenda, time_zone=d.time_zone,
            status=meeting.status.value, sequence=meeting.sequence, created_at=meeting.created_at,
            updated_at=meeting.updated_at))

    def save_meeting(self, meeting: Meeting) -> None:
        d = meeting.details
        self.session.execute(update(t.meetings).where(t.meetings.c.id == meeting.id).values(
            starts_at=d.starts_at, duration_minutes=d.duration_minutes, mode=d.mode,
            location_or_link=d.location_or_link, agenda=d.agenda, time_zone=d.time_zone,
            status=meeting.status.value, sequence=meeting.sequence, updated_at=meeting.updated_at))

    # --- tools ----------------------------------------------------------------------------
    def _tools(self, where: Any) -> list[Tool]:
        rows = self.session.execute(
            select(t.tools, t.tool_versions.c.content, t.tool_versions.c.author_id,
                   t.tool_versions.c.created_at.label("version_at"))
            .join(t.tool_versions, and_(t.tool_versions.c.tool_id == t.tools.c.id,
                                        t.tool_versions.c.version == t.tools.c.version))
            .where(where).order_by(t.tools.c.created_at, t.tools.c.id)).all()
        return [Tool(row.id, row.relationship_id, ToolKind(row.kind),
                     ToolVersion(row.version, dict(row.content), row.author_id, utc(row.version_at)),
                     utc(row.created_at)) for row in rows]

    def tool(self, relationship_id: str, kind: ToolKind, tool_id: str) -> Tool | None:
        found = self._tools(and_(t.tools.c.id == tool_id, t.tools.c.relationship_id == relationship_id,
                                 t.tools.c.kind == kind.value))
        return found[0] if found else None

    def tools(self, relationship_id: str, kind: ToolKind | None = None) -> list[Tool]:
        where = t.tools.c.relationship_id == relationship_id
        if kind is not None:
            where = and_(where, t.tools.c.kind == kind.value)
        return self._tools(where)

    def tools_of(self, relationship_ids: list[str], kind: ToolKind) -> list[Tool]:
        if not relationship_ids:
            return []
        return self._tools(and_(t.tools.c.relationship_id.in_(relationship_ids), t.tools.c.kind == kind.value))

    def tool_history(self, tool_id: str) -> list[ToolVersion]:
        rows = self.session.execute(select(t.tool_versions).where(t.tool_versions.c.tool_id == tool_id)
                                    .order_by(t.tool_versions.c.version)).all()
        return [ToolVersion(r.version, dict(r.content), r.author_id, utc(r.created_at)) for r in rows]

    def save_tool(self, tool: Tool, *, new: bool) -> None:
        if new:
            self.session.execute(t.tools.insert().values(
                id=tool.id, relationship_id=tool.relationship_id, kind=tool.kind.value,
                version=tool.current.number, created_at=tool.created_at, updated_at=tool.current.at))
        else:
            self.session.execute(update(t.tools).where(t.tools.c.id == tool.id)
                                 .values(version=tool.current.number, updated_at=tool.current.at))
        if tool.new_versions:
            self.session.execute(t.tool_versions.insert(), [
                {"tool_id": tool.id, "version": v.number, "content": v.content, "author_id": v.author_id,
                 "created_at": v.at} for v in tool.new_versions])
            tool.new_versions = []

    # --- messages -----------------------------------------------------------------------
    def add_message(self, message_id: str, relationship_id: str, sender_id: str, recipient_id: str, body: str,
                    at: datetime, emailed: bool) -> None:
        self.session.execute(t.messages.insert().values(
            id=message_id, relationship_id=relationship_id, sender_id=sender_id, recipient_id=recipient_id,
            body=body, sent_at=at, read_at=None, emailed=emailed))

    def email_outstanding(self, relationship_id: str, recipient_id: str, since: datetime) -> bool:
        """An unread message to this recipient whose email went out after `since`."""
        return self.session.execute(
            select(t.messages.c.id).where(
                t.messages.c.relationship_id == relationship_id, t.messages.c.recipient_id == recipient_id,
                t.messages.c.read_at.is_(None), t.messages.c.emailed.is_(True), t.messages.c.sent_at > since)
            .limit(1)).first() is not None

    def messages_page(self, relationship_id: str, before: tuple[datetime, str] | None, limit: int) -> list[Any]:
        query = select(t.messages).where(t.messages.c.relationship_id == relationship_id)
        if before is not None:
            at, message_id = before
            query = query.where(or_(t.messages.c.sent_at < at,
                                    and_(t.messages.c.sent_at == at, t.messages.c.id < message_id)))
        return self.session.execute(query.order_by(t.messages.c.sent_at.desc(), t.messages.c.id.desc())
                                    .limit(limit + 1)).all()

    def mark_read(self, message_ids: list[str], reader_id: str, at: datetime) -> None:
        if message_ids:
            self.session.execute(update(t.messages).where(
                t.messages.c.id.in_(message_ids), t.messages.c.recipient_id == reader_id,
                t.messages.c.read_at.is_(None)).values(read_at=at))

    def unread_counts(self, member_id: str, relationship_ids: list[str]) -> dict[str, int]:
        if not relationship_ids:
            return {}
        rows = self.session.execute(
            select(t.messages.c.relationship_id, func.count())
            .where(t.messages.c.recipient_id == member_id, t.messages.c.read_at.is_(None),
                   t.messages.c.relationship_id.in_(relationship_ids))
            .group_by(t.messages.c.relationship_id)).all()
        return {row[0]: row[1] for row in rows}

    def last_active(self, relationship_id: str, member_id: str) -> datetime | None:
        """The latest thing the member did in this relationship's workspace (or its status history)."""
        candidates = [
            select(func.max(t.messages.c.sent_at)).where(t.messages.c.relationship_id == relationship_id,
                                                         t.messages.c.sender_id == member_id),
            select(func.max(t.meetings.c.updated_at)).where(t.meetings.c.relationship_id == relationship_id,
                                                            t.meetings.c.organiser_id == member_id),
            select(func.max(t.tool_versions.c.created_at)).join(t.tools, t.tools.c.id == t.tool_versions.c.tool_id)
            .where(t.tools.c.relationship_id == relationship_id, t.tool_versions.c.author_id == member_id),
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
        sh = orm.status_history
        queries = [
            select(t.messages.c.relationship_id, t.messages.c.sender_id, func.max(t.messages.c.sent_at))
            .where(t.messages.c.relationship_id.in_(relationship_ids))
            .group_by(t.messages.c.relationship_id, t.messages.c.sender_id),
            select(t.meetings.c.relationship_id, t.meetings.c.organiser_id, func.max(t.meetings.c.updated_at))
            .where(t.meetings.c.relationship_id.in_(relationship_ids))
            .group_by(t.meetings.c.relationship_id, t.meetings.c.organiser_id),
            select(t.tools.c.relationship_id, t.tool_versions.c.author_id, func.max(t.tool_versions.c.created_at))
            .join(t.tools, t.tools.c.id == t.tool_versions.c.tool_id)
            .where(t.tools.c.relationship_id.in_(relationship_ids))
            .group_by(t.tools.c.relationship_id, t.tool_versions.c.author_id),
            select(sh.c.relationship_id, sh.c.actor_id, func.max(sh.c.at))
            .where(sh.c.relationship_id.in_(relationship_ids), sh.c.actor_id.isnot(None))
            .group_by(sh.c.relationship_id, sh.c.actor_id),
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

    def last_nudges(self, relationship_ids: list[str]) -> dict[tuple[str, str], datetime]:
        if not relationship_ids:
            return {}
        rows = self.session.execute(
            select(t.nudges.c.relationship_id, t.nudges.c.sender_id, func.max(t.nudges.c.at))
            .where(t.nudges.c.relationship_id.in_(relationship_ids))
            .group_by(t.nudges.c.relationship_id, t.nudges.c.sender_id))
        return {(r[0], r[1]): utc(r[2]) for r in rows if r[2] is not None}

    def parties_of(self, relationship_ids: list[str]) -> list[Any]:
        """Who, status, acceptance and planned duration of many relationships in one query."""
        if not relationship_ids:
            return []
        rel, ver = orm.relationships, orm.proposal_versions
        return self.session.execute(
            select(rel.c.id, rel.c.mentor_id, rel.c.mentee_id, rel.c.status, rel.c.accepted_at,
                   ver.c.duration_months)
            .join(ver, and_(ver.c.relationship_id == rel.c.id, ver.c.version == rel.c.proposal_version))
            .where(rel.c.id.in_(relationship_ids))).all()

    # --- nudges -------------------------------------------------------------------------
    def last_nudge(self, relationship_id: str, sender_id: str) -> datetime | None:
        return _aware(self.session.execute(select(func.max(t.nudges.c.at)).where(
            t.nudges.c.relationship_id == relationship_id, t.nudges.c.sender_id == sender_id)).scalar())

    def add_nudge(self, nudge_id: str, relationship_id: str, sender_id: str, recipient_id: str,
                  at: datetime) -> None:
        self.session.execute(t.nudges.insert().values(id=nudge_id, relationship_id=relationship_id,
                                                      sender_id=sender_id, recipient_id=recipient_id, at=at))

    # --- accounts -----------------------------------------------------------------------
    def deleted_account(self, member_id: str) -> Any | None:
        return self.session.execute(select(t.deleted_accounts)
                                    .where(t.deleted_accounts.c.member_id == member_id)).first()

    def relationship_ids_of(self, member_id: str, statuses: tuple[str, ...] | None = None) -> list[str]:
        rel = orm.relationships
        query = select(rel.c.id).where(or_(rel.c.mentor_id == member_id, rel.c.mentee_id == member_id))
        if statuses is not None:
            query = query.where(rel.c.status.in_(statuses))
        return [row.id for row in self.session.execute(query.order_by(rel.c.id))]
