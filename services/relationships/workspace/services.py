"""Workspace use cases: meetings, the first conversation and its tools, learning
outcomes, messages, nudges and the dashboard.

Each command runs in the relationships service's unit of work: it loads the
relationship aggregate (row-locked on PostgreSQL) to check that the caller is a
party and what its status allows, lets the domain (`workspace/domain.py`)
decide, writes the change and records its events, and commits both together.
A caller who is not a party gets `NoSuchRelationship` whatever the
relationship's state.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Callable, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from connect.clock import Clock, utc
from connect.errors import NotFound, PreconditionFailed
from connect.etags import check_if_match, entity_tag, require_current, require_if_match
from connect.uow import Receipt
from services.relationships.adapters.repository import RelationshipsUnitOfWork
from services.relationships.interfaces import SharedConnections
from services.relationships.proposals.domain import NoSuchRelationship, Relationship, Role, planned_end
from services.relationships.proposals.services import ProposalsService, iso, list_item, relationship_for
from services.relationships.workspace.domain import (MESSAGE_EMAIL_QUIET, Meeting, MeetingDetails, NotInWorkspace,
                                                     Parties, Tool, ToolKind, ice_breakers, nudge, nudge_refusal,
                                                     post_message)

TOOL_KINDS = (ToolKind.SWOT, ToolKind.GSTAR, ToolKind.GOALS)


def parties_of(rel: Relationship) -> Parties:
    return Parties(rel.id, rel.mentor_id, rel.mentee_id, rel.status.value, rel.accepted_at)


STALE_MEETING = "The meeting changed since you read it (its ETag is not current); reload it and try again."


def meeting_view(meeting: Meeting) -> dict[str, Any]:
    d = meeting.details
    return {
        "id": meeting.id, "relationship_id": meeting.relationship_id, "organiser_id": meeting.organiser_id,
        "starts_at": iso(d.starts_at), "ends_at": iso(d.ends_at), "duration_minutes": d.duration_minutes,
        "mode": d.mode, "location_or_link": d.location_or_link, "agenda": d.agenda, "time_zone": d.time_zone,
        "local_starts_at": d.starts_at.astimezone(ZoneInfo(d.time_zone)).isoformat(),
        "status": meeting.status.value, "sequence": meeting.sequence,
        "created_at": iso(meeting.created_at), "updated_at": iso(meeting.updated_at),
        "etag": entity_tag(meeting.id, meeting.sequence),
    }


def tool_view(tool: Tool, history: Sequence[Any] | None = None) -> dict[str, Any]:
    view = {"id": tool.id, "relationship_id": tool.relationship_id, "kind": tool.kind.value,
            "version": tool.current.number, "content": tool.current.content, "author_id": tool.current.author_id,
            "updated_at": iso(tool.current.at), "created_at": iso(tool.created_at), "etag": tool.etag}
    if history is not None:
        view["versions"] = [{"version": v.number, "content": v.content, "author_id": v.author_id,
                             "at": iso(v.at)} for v in history]
    return view


def tool_page(kind: ToolKind, tools: Sequence[Tool], limit: int) -> dict[str, Any]:
    """One page of a kind's tools from up to `limit + 1` read (oldest first); `next_cursor`
    (created_at, id) is where the next page starts."""
    page, more = tools[:limit], len(tools) > limit
    return {"kind": kind.value, "items": [tool_view(tool) for tool in page],
            "next_cursor": (page[-1].created_at, page[-1].id) if more else None}


def _message_view(row: Any, member_id: str) -> dict[str, Any]:
    return {"id": row.id, "sender_id": row.sender_id, "recipient_id": row.recipient_id, "body": row.body,
            "sent_at": iso(row.sent_at), "read_at": iso(row.read_at), "mine": row.sender_id == member_id}


def agreement_id(relationship_id: str) -> str:
    # One per relationship: two first saves racing collide on the primary key.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"connect:agreement:{relationship_id}"))


class WorkspaceService:
    def __init__(self, uow: Callable[[], RelationshipsUnitOfWork], clock: Clock, proposals: ProposalsService,
                 connections: SharedConnections | None = None, *,
                 reader: Callable[[], RelationshipsUnitOfWork] | None = None) -> None:
        self.uow = uow
        self.reader = reader or uow  # for use cases that only read
        self.clock = clock
        self.proposals = proposals
        self.connections = connections

    @staticmethod
    def _load(uow: RelationshipsUnitOfWork, member_id: str, relationship_id: str,
              *, lock: bool = True) -> tuple[Relationship, Parties]:
        rel = relationship_for(uow, member_id, relationship_id, lock=lock)
        return rel, parties_of(rel)

    @staticmethod
    def _row(uow: RelationshipsUnitOfWork, member_id: str, relationship_id: str) -> Any:
        """The relationship's row (`parties_of`), for a read that changes nothing: one query, not
        the aggregate with its reminders.  A caller who is not a party gets `NoSuchRelationship`,
        as from `_load`."""
        rows = uow.relationships.parties_of([relationship_id])
        if not rows or member_id not in (rows[0].mentor_id, rows[0].mentee_id):
            raise NoSuchRelationship(relationship_id)
        return rows[0]

    @classmethod
    def _parties(cls, uow: RelationshipsUnitOfWork, member_id: str, relationship_id: str) -> Parties:
        """Who is in the relationship and where it stands, for a read (see `_row`)."""
        row = cls._row(uow, member_id, relationship_id)
        return Parties(row.id, row.mentor_id, row.mentee_id, row.status,
                       utc(row.accepted_at) if row.accepted_at else None)

    # --- meetings ------------------------------------------------------------------------
    def list_meetings(self, member_id: str, relationship_id: str, after: tuple[datetime, str] | None = None,
                      limit: int = 20) -> dict[str, Any]:
        """In time order from after `after` (starts_at, id); `next_cursor` is where the next page starts."""
        with self.reader() as uow:
            parties = self._parties(uow, member_id, relationship_id)
            parties.require_readable("Meetings")
            rows = uow.workspace.meetings([relationship_id], after=after, limit=limit + 1)
        page, more = rows[:limit], len(rows) > limit
        return {"items": [meeting_view(m) for m in page],
                "next_cursor": (page[-1].details.starts_at, page[-1].id) if more else None}

    def get_meeting(self, member_id: str, relationship_id: str, meeting_id: str) -> dict[str, Any]:
        with self.reader() as uow:
            parties = self._parties(uow, member_id, relationship_id)
            parties.require_readable("Meetings")
            return meeting_view(self._meeting(uow, relationship_id, meeting_id))

    def schedule_meeting(self, member_id: str, relationship_id: str, details: MeetingDetails,
                         receipt: Receipt | None = None) -> dict[str, Any]:
        with self.uow() as uow:
            _, parties = self._load(uow, member_id, relationship_id)
            meeting = Meeting.schedule(str(uuid.uuid4()), parties, member_id, details, self.clock.now())
            uow.workspace.add_meeting(meeting)
            return self._commit(uow, meeting, meeting_view(meeting), receipt)

    def change_meeting(self, member_id: str, relationship_id: str, meeting_id: str,
                       changes: dict[str, Any], if_match: str | None = None) -> dict[str, Any]:
        with self.uow() as uow:
            _, parties = self._load(uow, member_id, relationship_id)
            meeting = self._meeting(uow, relationship_id, meeting_id)
            check_if_match(if_match, entity_tag(meeting.id, meeting.sequence), STALE_MEETING)
            meeting.change(parties, member_id, changes, self.clock.now())
            uow.workspace.save_meeting(meeting)
            return self._commit(uow, meeting, meeting_view(meeting), None)

    def cancel_meeting(self, member_id: str, relationship_id: str, meeting_id: str,
                       reason: str | None = None, if_match: str | None = None) -> dict[str, Any]:
        with self.uow() as uow:
            _, parties = self._load(uow, member_id, relationship_id)
            meeting = self._meeting(uow, relationship_id, meeting_id)
            check_if_match(if_match, entity_tag(meeting.id, meeting.sequence), STALE_MEETING)
            meeting.cancel(parties, member_id, self.clock.now(), reason=reason)
            uow.workspace.save_meeting(meeting)
            return self._commit(uow, meeting, meeting_view(meeting), None)

    @staticmethod
    def _meeting(uow: RelationshipsUnitOfWork, relationship_id: str, meeting_id: str) -> Meeting:
        meeting = uow.workspace.meeting(relationship_id, meeting_id)
        if meeting is None:
            raise NotInWorkspace(f"No meeting {meeting_id} in this relationship.")
        return meeting

    @staticmethod
    def _commit(uow: RelationshipsUnitOfWork, aggregate: Meeting | Tool, view: dict[str, Any],
                receipt: Receipt | None) -> dict[str, Any]:
        """The aggregate's events, the caller's receipt and the change, in one commit."""
        uow.record_events_of(aggregate)
        uow.keep(receipt, view)
        uow.commit()
        return view

    # --- tools ----------------------------------------------------------------------------
    def list_tools(self, member_id: str, relationship_id: str, kind: ToolKind,
                   after: tuple[datetime, str] | None = None, limit: int = 20) -> dict[str, Any]:
        """Oldest first from after `after` (created_at, id); `next_cursor` is where the next page starts."""
        with self.reader() as uow:
            parties = self._parties(uow, member_id, relationship_id)
            parties.require_readable("The first-conversation tools")
            tools = uow.workspace.tools(relationship_id, kind, after=after, limit=limit + 1)
        return tool_page(kind, tools, limit)

    def all_tools(self, member_id: str, relationship_id: str, limit: int = 20) -> dict[str, Any]:
        """The first page of each kind of tool (SWOT, G-STAR, Goals), with the parties' names to say
        who saved each: a Tools page in one read.  Each kind's `next_cursor` (created_at, id)
        continues in that kind's own listing (`list_tools`)."""
        with self.reader() as uow:
            parties = self._parties(uow, member_id, relationship_id)
            parties.require_readable("The first-conversation tools")
            names = uow.members.names({parties.mentor_id, parties.mentee_id})
            found = {kind: uow.workspace.tools(relationship_id, kind, limit=limit + 1) for kind in TOOL_KINDS}
        role = Role.MENTOR if member_id == parties.mentor_id else Role.MENTEE

        def person(mid: str) -> dict[str, str]:
            return {"member_id": mid, "name": names.get(mid, mid)}

        view: dict[str, Any] = {
            "relationship_id": relationship_id, "status": parties.status, "my_role": role.value,
            "mentor": person(parties.mentor_id), "mentee": person(parties.mentee_id),
            "counterpart": person(parties.other(member_id))}
        for kind, tools in found.items():
            view[kind.value] = tool_page(kind, tools, limit)
        return view

    def create_tool(self, member_id: str, relationship_id: str, kind: ToolKind, content: dict[str, Any],
                    receipt: Receipt | None = None, tool_id: str | None = None) -> dict[str, Any]:
        with self.uow() as uow:
            _, parties = self._load(uow, member_id, relationship_id)
            tool = Tool.create(tool_id or str(uuid.uuid4()), parties, kind, member_id, content, self.clock.now())
            uow.workspace.save_tool(tool, new=True)
            return self._commit(uow, tool, tool_view(tool), receipt)

    def get_tool(self, member_id: str, relationship_id: str, kind: ToolKind, tool_id: str) -> dict[str, Any]:
        with self.reader() as uow:
            parties = self._parties(uow, member_id, relationship_id)
            parties.require_readable("The first-conversation tools")
            tool = self._tool(uow, relationship_id, kind, tool_id)
            return tool_view(tool, uow.workspace.tool_history(tool.id))

    def amend_tool(self, member_id: str, relationship_id: str, kind: ToolKind, tool_id: str,
                   if_match: str | None, content: dict[str, Any]) -> dict[str, Any]:
        if_match = require_if_match(if_match, "Send If-Match with the ETag of the version you are amending.")
        with self.uow() as uow:
            _, parties = self._load(uow, member_id, relationship_id)
            tool = self._tool(uow, relationship_id, kind, tool_id)
            require_current(if_match, tool.etag,
                            "Someone saved this tool since you read it; reload it and amend again.")
            tool.amend(parties, member_id, content, self.clock.now())
            uow.workspace.save_tool(tool, new=False)
            return self._commit(uow, tool, tool_view(tool), None)

    @staticmethod
    def _tool(uow: RelationshipsUnitOfWork, relationship_id: str, kind: ToolKind, tool_id: str) -> Tool:
        tool = uow.workspace.tool(relationship_id, kind, tool_id)
        if tool is None:
            raise NotInWorkspace(f"No {kind} tool {tool_id} in this relationship.")
        return tool

    # --- the agreement record and the first conversation ------------------------------------
    def get_agreement(self, member_id: str, relationship_id: str) -> dict[str, Any]:
        with self.reader() as uow:
            parties = self._parties(uow, member_id, relationship_id)
            parties.require_readable("The agreement record")
            tool = uow.workspace.tool(relationship_id, ToolKind.AGREEMENT, agreement_id(relationship_id))
            if tool is None:
                raise NotFound("No agreement has been recorded yet.")
            return tool_view(tool, uow.workspace.tool_history(tool.id))

    def put_agreement(self, member_id: str, relationship_id: str, if_match: str | None,
                      content: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        """Record (True: created) or amend (False) the agreement, and its view."""
        tool_id = agreement_id(relationship_id)
        with self.uow() as uow:
            self._parties(uow, member_id, relationship_id)
            exists = uow.workspace.tool(relationship_id, ToolKind.AGREEMENT, tool_id) is not None
        if exists:
            return False, self.amend_tool(member_id, relationship_id, ToolKind.AGREEMENT, tool_id, if_match, content)
        if if_match and if_match.strip() != "*":
            raise PreconditionFailed("There is no agreement record yet; save it without If-Match.")
        try:
            return True, self.create_tool(member_id, relationship_id, ToolKind.AGREEMENT, content, tool_id=tool_id)
        except IntegrityError as exc:
            raise PreconditionFailed("Your partner saved the agreement at the same moment; reload it and "
                                     "amend.") from exc

    def first_conversation(self, member_id: str, relationship_id: str) -> dict[str, Any]:
        with self.reader() as uow:
            rel, parties = self._load(uow, member_id, relationship_id, lock=False)
            parties.require_readable("The first conversation")
            tools = uow.workspace.tools(relationship_id)
            agreement = next((x for x in tools if x.kind is ToolKind.AGREEMENT), None)
        shared = self.connections.between(rel.mentee_id, rel.mentor_id) if self.connections else []
        content = rel.proposal.content
        return {
            "relationship_id": relationship_id,
            "connections": shared,
            "ice_breakers": ice_breakers(list(content.areas), shared, content.duration_months),
            "agreement": tool_view(agreement) if agreement else None,
            "tools": {kind.value: sum(1 for x in tools if x.kind is kind) for kind in TOOL_KINDS},
        }

    # --- learning outcomes (private to each party) ----------------------------------------------
    def get_learning_outcomes(self, member_id: str, relationship_id: str) -> dict[str, Any]:
        with self.reader() as uow:
            parties = self._parties(uow, member_id, relationship_id)
            parties.require_readable("Learning outcomes")
            note = uow.workspace.learning_note(relationship_id, member_id)
        return {"relationship_id": relationship_id, "outcomes": note.outcomes if note else "",
                "updated_at": iso(note.updated_at) if note else None}

    def put_learning_outcomes(self, member_id: str, relationship_id: str, outcomes: str) -> dict[str, Any]:
        """What I learned in this relationship, for my CPD record; my partner never sees it.
        Writable once accepted and still after completion or withdrawal (that is when it is written)."""
        with self.uow() as uow:
            _, parties = self._load(uow, member_id, relationship_id)
            parties.require_readable("Learning outcomes")
            now = self.clock.now()
            uow.workspace.save_learning_note(relationship_id, member_id, outcomes, now)
            uow.commit()
        return {"relationship_id": relationship_id, "outcomes": outcomes, "updated_at": iso(now)}

    # --- messages and nudges ------------------------------------------------------------------
    def list_messages(self, member_id: str, relationship_id: str, before: tuple[datetime, str] | None,
                      limit: int) -> dict[str, Any]:
        """Newest first, from `before` (sent_at, id) on; the messages to me on the page returned are
        marked read. `next_cursor` is where the next page starts (the API seals it).
        A page with nothing new to me is only read: no write transaction, no write lock."""
        with self.reader() as uow:
            self._parties(uow, member_id, relationship_id)
            rows = uow.workspace.messages_page(relationship_id, before, limit)
            page, more = rows[:limit], len(rows) > limit
            now = self.clock.now()
            unread_here = [r.id for r in page if r.recipient_id == member_id and r.read_at is None]
            unread = uow.workspace.unread_counts(member_id, [relationship_id]).get(relationship_id, 0)
        if unread_here:
            with self.uow() as uow:
                uow.workspace.mark_read(unread_here, member_id, now)
                unread = uow.workspace.unread_counts(member_id, [relationship_id]).get(relationship_id, 0)
                uow.commit()
        items = [_message_view(r, member_id) for r in page]
        for item in items:
            if item["id"] in unread_here:
                item["read_at"] = iso(now)
        return {"items": items, "unread": unread,
                "next_cursor": (utc(page[-1].sent_at), page[-1].id) if more else None}

    def post_message(self, member_id: str, relationship_id: str, body: str,
                     receipt: Receipt | None = None) -> dict[str, Any]:
        with self.uow() as uow:
            _, parties = self._load(uow, member_id, relationship_id)
            now = self.clock.now()
            recipient = parties.other(member_id)
            outstanding = uow.workspace.email_outstanding(relationship_id, recipient, now - MESSAGE_EMAIL_QUIET)
            message_id = str(uuid.uuid4())
            event = post_message(parties, message_id, member_id, body, email_outstanding=outstanding)
            uow.workspace.add_message(message_id, relationship_id, member_id, recipient, body, now,
                                      emailed=event.notify)
            uow.record(event)
            view = {"id": message_id, "sender_id": member_id, "recipient_id": recipient, "body": body,
                    "sent_at": iso(now), "read_at": None, "mine": True, "recipient_emailed": event.notify}
            uow.keep(receipt, view)
            uow.commit()
            return view

    def nudge_partner(self, member_id: str, relationship_id: str,
                      receipt: Receipt | None = None) -> dict[str, Any]:
        with self.uow() as uow:
            _, parties = self._load(uow, member_id, relationship_id)
            partner = parties.other(member_id)
            now = self.clock.now()
            event = nudge(parties, member_id, uow.workspace.last_active(relationship_id, partner),
                          uow.workspace.last_nudge(relationship_id, member_id), now)
            uow.workspace.add_nudge(str(uuid.uuid4()), relationship_id, member_id, partner, now)
            uow.record(event)
            view = {"relationship_id": relationship_id, "nudged": partner, "at": iso(now)}
            uow.keep(receipt, view)
            uow.commit()
            return view

    # --- dashboard -----------------------------------------------------------------------------
    def dashboard_fields(self, member_id: str, relationship_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Per relationship of mine: started and planned end dates, unread messages, the next
        meeting, when my partner was last active and whether I may nudge them.  For any list
        view to merge into its items (`GET /v1/dashboard` does)."""
        if not relationship_ids:
            return {}
        with self.reader() as uow:
            return self._dashboard_fields(uow, member_id, uow.relationships.parties_of(relationship_ids))[0]

    def _dashboard_fields(self, uow: RelationshipsUnitOfWork, member_id: str, rows: Sequence[Any]
                          ) -> tuple[dict[str, dict[str, Any]], dict[tuple[str, str], datetime]]:
        """`dashboard_fields` of these relationships' rows (`parties_of`), and when each party of
        each was last active."""
        now = self.clock.now()
        workspace = uow.workspace
        rows = [r for r in rows if member_id in (r.mentor_id, r.mentee_id)]
        ids = [r.id for r in rows]
        unread = workspace.unread_counts(member_id, ids)
        active = workspace.last_active_many(ids)
        nudged = workspace.last_nudges(ids)
        upcoming: dict[str, Meeting] = {}
        for meeting in workspace.meetings(ids, scheduled_only=True, starting_after=now):
            if meeting.relationship_id not in upcoming:
                upcoming[meeting.relationship_id] = meeting
        fields: dict[str, dict[str, Any]] = {}
        for row in rows:
            accepted_at = utc(row.accepted_at) if row.accepted_at else None
            parties = Parties(row.id, row.mentor_id, row.mentee_id, row.status, accepted_at)
            partner = parties.other(member_id)
            partner_active = active.get((row.id, partner)) if parties.workspace_open else None
            refusal = nudge_refusal(parties, partner_active, nudged.get((row.id, member_id)), now)
            upcoming_meeting = upcoming.get(row.id)
            fields[row.id] = {
                "started_at": iso(accepted_at),
                "planned_end": iso(planned_end(accepted_at, row.duration_months)),
                "unread_messages": unread.get(row.id, 0),
                "next_meeting": {"id": upcoming_meeting.id, "starts_at": iso(upcoming_meeting.details.starts_at),
                                 "duration_minutes": upcoming_meeting.details.duration_minutes,
                                 "mode": upcoming_meeting.details.mode} if upcoming_meeting else None,
                "first_conversation_open": parties.workspace_open,
                "partner_last_active_at": iso(partner_active),
                "can_nudge": refusal is None,
            }
        return fields, active

    def relationship_dashboard(self, member_id: str, relationship_id: str) -> dict[str, Any]:
        """One relationship's dashboard: its list item and dashboard fields, read in one
        transaction from one read of its row (one snapshot, one pass over the parties' activity
        for both the partner's last activity and the relationship's)."""
        with self.reader() as uow:
            row = self._row(uow, member_id, relationship_id)
            names = uow.members.names({row.mentor_id, row.mentee_id})
            fields, active = self._dashboard_fields(uow, member_id, [row])
        activity = [at for (rel_id, _member), at in active.items() if rel_id == relationship_id]
        return {**list_item(row, member_id, names, max(activity, default=None)), **fields[relationship_id]}

    def my_dashboard(self, member_id: str, **filters: Any) -> dict[str, Any]:
        listing = self.proposals.list_relationships(member_id, **filters)
        extra = self.dashboard_fields(member_id, [item["id"] for item in listing["items"]])
        return {"items": [{**item, **extra.get(item["id"], {})} for item in listing["items"]],
                "next_cursor": listing["next_cursor"]}
