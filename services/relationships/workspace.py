"""Workspace use cases: meetings, tools, messages, nudges, the dashboard, account
deletion and erasure, support requests and the CPD record.

Each command runs in the relationships service's unit of work: it loads the
relationship aggregate (row-locked on PostgreSQL) to check that the caller is a
party and what its status allows, lets the domain (`domain/workspace.py`)
decide, writes the change and records its events, and commits both together.
A caller who is not a party gets 404 whatever the relationship's state.
"""

from __future__ import annotations

import csv
import io
import logging
import threading
import uuid
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any, Callable, Protocol, Sequence
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import bindparam, delete, select, text, update
from sqlalchemy.exc import IntegrityError

from connect.auth import Member, RecentlyConfirmed
from connect.clock import utc
from connect.problems import Problem, field_error, validation_problem
from schemas.events import AccountDeleted, MemberErased, SupportRequestCreated, SupportRequestResolved
from services.relationships.adapters import orm
from services.relationships.adapters import orm_workspace as t
from services.relationships.adapters.repository import RelationshipsUnitOfWork
from services.relationships.adapters.workspace_repository import WorkspaceRepository
from services.relationships.domain.model import Relationship, Role, Status, planned_end
from services.relationships.domain.workspace import (CPD_COLUMNS, MESSAGE_EMAIL_QUIET, CpdRow, Meeting,
                                                     MeetingDetails, Parties, SupportKind,
                                                     SupportOutcome, Tool, ToolKind, WorkspaceInvalid,
                                                     WorkspaceRefused, check_resolution, check_support_request,
                                                     cpd_totals, etag_matches, ice_breakers, nudge, nudge_refusal,
                                                     post_message)
from services.relationships.services import RelationshipsService, Responder, iso

log = logging.getLogger(__name__)

# Read on every request (the deleted-account hook), so built once, not per request.
_DELETED_ACCOUNT = select(t.deleted_accounts.c.member_id).where(t.deleted_accounts.c.member_id == bindparam("member_id"))

TOOL_KINDS = (ToolKind.SWOT, ToolKind.GSTAR, ToolKind.GOALS)
ACCOUNT_DELETED_REASON = "Account deleted"


class SharedConnections(Protocol):
    """What two members share (sector, employer, region, interests...), from the matching
    service, as `[{"kind", "values"}]`; never raises (no ice-breakers beat no page)."""

    def between(self, member_id: str, other_id: str) -> list[dict[str, Any]]: ...


def _problem(exc: WorkspaceInvalid | WorkspaceRefused) -> Problem:
    if isinstance(exc, WorkspaceInvalid):
        return validation_problem([field_error(k, v) for k, v in exc.errors.items()])
    return Problem(409, exc.detail, type_="workspace-not-open" if "current_status" in exc.facts else "conflict",
                   **exc.facts)


def meeting_view(meeting: Meeting) -> dict[str, Any]:
    d = meeting.details
    return {
        "id": meeting.id, "relationship_id": meeting.relationship_id, "organiser_id": meeting.organiser_id,
        "starts_at": iso(d.starts_at), "ends_at": iso(d.ends_at), "duration_minutes": d.duration_minutes,
        "mode": d.mode, "location_or_link": d.location_or_link, "agenda": d.agenda, "time_zone": d.time_zone,
        "local_starts_at": d.starts_at.astimezone(ZoneInfo(d.time_zone)).isoformat(),
        "status": meeting.status.value, "sequence": meeting.sequence,
        "created_at": iso(meeting.created_at), "updated_at": iso(meeting.updated_at),
    }


def tool_view(tool: Tool, history: Sequence[Any] | None = None) -> dict[str, Any]:
    view = {"id": tool.id, "relationship_id": tool.relationship_id, "kind": tool.kind.value,
            "version": tool.current.number, "content": tool.current.content, "author_id": tool.current.author_id,
            "updated_at": iso(tool.current.at), "created_at": iso(tool.created_at), "etag": tool.etag}
    if history is not None:
        view["versions"] = [{"version": v.number, "content": v.content, "author_id": v.author_id,
                             "at": iso(v.at)} for v in history]
    return view


def _message_view(row: Any, member_id: str) -> dict[str, Any]:
    return {"id": row.id, "sender_id": row.sender_id, "recipient_id": row.recipient_id, "body": row.body,
            "sent_at": iso(row.sent_at), "read_at": iso(row.read_at), "mine": row.sender_id == member_id}


class WorkspaceService:
    def __init__(self, relationships: RelationshipsService, connections: SharedConnections | None = None) -> None:
        self.relationships = relationships
        self.database = relationships.database
        self.clock = relationships.clock
        self.connections = connections
        self._deleted: set[str] = set()  # deletion is final: once seen, never asked again
        self._deleted_lock = threading.Lock()
        self._not_deleted = RecentlyConfirmed()

    def uow(self) -> RelationshipsUnitOfWork:
        return self.relationships.uow()

    # --- loading -----------------------------------------------------------------------
    @staticmethod
    def _parties(rel: Relationship) -> Parties:
        return Parties(rel.id, rel.mentor_id, rel.mentee_id, rel.status.value, rel.accepted_at)

    def _load(self, uow: RelationshipsUnitOfWork, member_id: str, relationship_id: str,
              *, lock: bool = True) -> tuple[Relationship, Parties]:
        rel = uow.relationships.get(relationship_id, for_update=lock)
        if rel is None or rel.role_of(member_id) is None:
            # Strangers (support users included) learn nothing, not even that it exists.
            raise Problem(404, f"No relationship {relationship_id} of yours.", type_="not-found")
        return rel, self._parties(rel)

    # --- meetings ------------------------------------------------------------------------
    def list_meetings(self, member_id: str, relationship_id: str) -> dict[str, Any]:
        with self.uow() as uow:
            _, parties = self._load(uow, member_id, relationship_id, lock=False)
            self._readable(parties, "Meetings")
            items = WorkspaceRepository(uow.session).meetings([relationship_id])
        return {"items": [meeting_view(m) for m in items]}

    def get_meeting(self, member_id: str, relationship_id: str, meeting_id: str) -> dict[str, Any]:
        with self.uow() as uow:
            _, parties = self._load(uow, member_id, relationship_id, lock=False)
            self._readable(parties, "Meetings")
            return meeting_view(self._meeting(WorkspaceRepository(uow.session), relationship_id, meeting_id))

    def schedule_meeting(self, member_id: str, relationship_id: str, details: MeetingDetails,
                         respond: Responder | None = None) -> dict[str, Any]:
        with self.uow() as uow:
            _, parties = self._load(uow, member_id, relationship_id)
            try:
                meeting = Meeting.schedule(str(uuid.uuid4()), parties, member_id, details, self.clock.now())
            except (WorkspaceInvalid, WorkspaceRefused) as exc:
                raise _problem(exc) from exc
            WorkspaceRepository(uow.session).add_meeting(meeting)
            return self._commit_meeting(uow, meeting, 201, respond)

    def change_meeting(self, member_id: str, relationship_id: str, meeting_id: str,
                       changes: dict[str, Any]) -> dict[str, Any]:
        with self.uow() as uow:
            _, parties = self._load(uow, member_id, relationship_id)
            repo = WorkspaceRepository(uow.session)
            meeting = self._meeting(repo, relationship_id, meeting_id)
            try:
                meeting.change(parties, member_id, changes, self.clock.now())
            except (WorkspaceInvalid, WorkspaceRefused) as exc:
                raise _problem(exc) from exc
            repo.save_meeting(meeting)
            return self._commit_meeting(uow, meeting, 200, None)

    def cancel_meeting(self, member_id: str, relationship_id: str, meeting_id: str,
                       reason: str | None = None) -> dict[str, Any]:
        with self.uow() as uow:
            _, parties = self._load(uow, member_id, relationship_id)
            repo = WorkspaceRepository(uow.session)
            meeting = self._meeting(repo, relationship_id, meeting_id)
            try:
                meeting.cancel(parties, member_id, self.clock.now(), reason=reason)
            except (WorkspaceInvalid, WorkspaceRefused) as exc:
                raise _problem(exc) from exc
            repo.save_meeting(meeting)
            return self._commit_meeting(uow, meeting, 200, None)

    @staticmethod
    def _meeting(repo: WorkspaceRepository, relationship_id: str, meeting_id: str) -> Meeting:
        meeting = repo.meeting(relationship_id, meeting_id)
        if meeting is None:
            raise Problem(404, f"No meeting {meeting_id} in this relationship.", type_="not-found")
        return meeting

    @staticmethod
    def _commit_meeting(uow: RelationshipsUnitOfWork, meeting: Meeting, status: int,
                        respond: Responder | None) -> dict[str, Any]:
        for event in meeting.events:
            uow.record(event)
        meeting.events = []
        view = meeting_view(meeting)
        if respond is not None:
            respond(uow.session, status, view, {"Location": f"/v1/relationships/{meeting.relationship_id}"
                                                            f"/meetings/{meeting.id}"})
        uow.commit()
        return view

    @staticmethod
    def _readable(parties: Parties, what: str) -> None:
        try:
            parties.require_readable(what)
        except WorkspaceRefused as exc:
            raise _problem(exc) from exc

    # --- tools ----------------------------------------------------------------------------
    def list_tools(self, member_id: str, relationship_id: str, kind: ToolKind) -> dict[str, Any]:
        with self.uow() as uow:
            _, parties = self._load(uow, member_id, relationship_id, lock=False)
            self._readable(parties, "The first-conversation tools")
            tools = WorkspaceRepository(uow.session).tools(relationship_id, kind)
        return {"kind": kind.value, "items": [tool_view(tool) for tool in tools]}

    def create_tool(self, member_id: str, relationship_id: str, kind: ToolKind, content: dict[str, Any],
                    respond: Responder | None = None, tool_id: str | None = None) -> dict[str, Any]:
        with self.uow() as uow:
            _, parties = self._load(uow, member_id, relationship_id)
            try:
                tool = Tool.create(tool_id or str(uuid.uuid4()), parties, kind, member_id, content, self.clock.now())
            except (WorkspaceInvalid, WorkspaceRefused) as exc:
                raise _problem(exc) from exc
            WorkspaceRepository(uow.session).save_tool(tool, new=True)
            return self._commit_tool(uow, tool, None, 201, respond)

    def get_tool(self, member_id: str, relationship_id: str, kind: ToolKind, tool_id: str) -> dict[str, Any]:
        with self.uow() as uow:
            _, parties = self._load(uow, member_id, relationship_id, lock=False)
            self._readable(parties, "The first-conversation tools")
            repo = WorkspaceRepository(uow.session)
            tool = self._tool(repo, relationship_id, kind, tool_id)
            return tool_view(tool, repo.tool_history(tool.id))

    def amend_tool(self, member_id: str, relationship_id: str, kind: ToolKind, tool_id: str,
                   if_match: str | None, content: dict[str, Any]) -> dict[str, Any]:
        if not if_match:
            raise Problem(428, "Send If-Match with the ETag of the version you are amending.",
                          type_="precondition-required")
        with self.uow() as uow:
            _, parties = self._load(uow, member_id, relationship_id)
            repo = WorkspaceRepository(uow.session)
            tool = self._tool(repo, relationship_id, kind, tool_id)
            if not etag_matches(if_match, tool.etag):
                raise Problem(412, "Someone saved this tool since you read it; reload it and amend again.",
                              type_="stale-etag", headers={"ETag": tool.etag}, etag=tool.etag)
            try:
                tool.amend(parties, member_id, content, self.clock.now())
            except (WorkspaceInvalid, WorkspaceRefused) as exc:
                raise _problem(exc) from exc
            repo.save_tool(tool, new=False)
            return self._commit_tool(uow, tool, None, 200, None)

    @staticmethod
    def _tool(repo: WorkspaceRepository, relationship_id: str, kind: ToolKind, tool_id: str) -> Tool:
        tool = repo.tool(relationship_id, kind, tool_id)
        if tool is None:
            raise Problem(404, f"No {kind} tool {tool_id} in this relationship.", type_="not-found")
        return tool

    @staticmethod
    def _commit_tool(uow: RelationshipsUnitOfWork, tool: Tool, history: Sequence[Any] | None, status: int,
                     respond: Responder | None) -> dict[str, Any]:
        for event in tool.events:
            uow.record(event)
        tool.events = []
        view = tool_view(tool, history)
        if respond is not None:
            respond(uow.session, status, view,
                    {"ETag": tool.etag,
                     "Location": f"/v1/relationships/{tool.relationship_id}/tools/{tool.kind}/{tool.id}"})
        uow.commit()
        return view

    # --- the agreement record and the first conversation ------------------------------------
    @staticmethod
    def agreement_id(relationship_id: str) -> str:
        # One per relationship: two first saves racing collide on the primary key.
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"connect:agreement:{relationship_id}"))

    def get_agreement(self, member_id: str, relationship_id: str) -> dict[str, Any] | None:
        with self.uow() as uow:
            _, parties = self._load(uow, member_id, relationship_id, lock=False)
            self._readable(parties, "The agreement record")
            repo = WorkspaceRepository(uow.session)
            tool = repo.tool(relationship_id, ToolKind.AGREEMENT, self.agreement_id(relationship_id))
            return tool_view(tool, repo.tool_history(tool.id)) if tool else None

    def put_agreement(self, member_id: str, relationship_id: str, if_match: str | None,
                      content: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        tool_id = self.agreement_id(relationship_id)
        with self.uow() as uow:
            self._load(uow, member_id, relationship_id, lock=False)
            exists = WorkspaceRepository(uow.session).tool(relationship_id, ToolKind.AGREEMENT, tool_id) is not None
        if exists:
            return 200, self.amend_tool(member_id, relationship_id, ToolKind.AGREEMENT, tool_id, if_match, content)
        if if_match and if_match.strip() != "*":
            raise Problem(412, "There is no agreement record yet; save it without If-Match.", type_="stale-etag")
        try:
            return 201, self.create_tool(member_id, relationship_id, ToolKind.AGREEMENT, content, tool_id=tool_id)
        except IntegrityError as exc:
            raise Problem(412, "Your partner saved the agreement at the same moment; reload it and amend.",
                          type_="stale-etag") from exc

    def first_conversation(self, member_id: str, relationship_id: str) -> dict[str, Any]:
        with self.uow() as uow:
            rel, parties = self._load(uow, member_id, relationship_id, lock=False)
            self._readable(parties, "The first conversation")
            repo = WorkspaceRepository(uow.session)
            tools = repo.tools(relationship_id)
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
        with self.uow() as uow:
            _, parties = self._load(uow, member_id, relationship_id, lock=False)
            self._readable(parties, "Learning outcomes")
            row = uow.session.execute(select(t.learning_notes).where(
                t.learning_notes.c.relationship_id == relationship_id,
                t.learning_notes.c.member_id == member_id)).first()
        return {"relationship_id": relationship_id, "outcomes": row.outcomes if row else "",
                "updated_at": iso(row.updated_at) if row else None}

    def put_learning_outcomes(self, member_id: str, relationship_id: str, outcomes: str) -> dict[str, Any]:
        """What I learned in this relationship, for my CPD record; my partner never sees it.
        Writable once accepted and still after completion or withdrawal (that is when it is written)."""
        with self.uow() as uow:
            _, parties = self._load(uow, member_id, relationship_id)
            self._readable(parties, "Learning outcomes")
            now = self.clock.now()
            where = (t.learning_notes.c.relationship_id == relationship_id, t.learning_notes.c.member_id == member_id)
            if uow.session.execute(select(t.learning_notes.c.member_id).where(*where)).first() is None:
                uow.session.execute(t.learning_notes.insert().values(
                    relationship_id=relationship_id, member_id=member_id, outcomes=outcomes, updated_at=now))
            else:
                uow.session.execute(update(t.learning_notes).where(*where).values(outcomes=outcomes, updated_at=now))
            uow.commit()
        return {"relationship_id": relationship_id, "outcomes": outcomes, "updated_at": iso(now)}

    # --- messages and nudges ------------------------------------------------------------------
    def list_messages(self, member_id: str, relationship_id: str, before: tuple[datetime, str] | None,
                      limit: int) -> dict[str, Any]:
        """Newest first, from `before` (sent_at, id) on; the messages to me on the page returned are
        marked read. `next_cursor` is where the next page starts (the API seals it)."""
        with self.uow() as uow:
            self._load(uow, member_id, relationship_id, lock=False)
            repo = WorkspaceRepository(uow.session)
            rows = repo.messages_page(relationship_id, before, limit)
            page, more = rows[:limit], len(rows) > limit
            now = self.clock.now()
            unread_here = [r.id for r in page if r.recipient_id == member_id and r.read_at is None]
            repo.mark_read(unread_here, member_id, now)
            unread = repo.unread_counts(member_id, [relationship_id]).get(relationship_id, 0)
            uow.commit()
        items = [_message_view(r, member_id) for r in page]
        for item in items:
            if item["id"] in unread_here:
                item["read_at"] = iso(now)
        return {"items": items, "unread": unread,
                "next_cursor": (utc(page[-1].sent_at), page[-1].id) if more else None}

    def post_message(self, member_id: str, relationship_id: str, body: str,
                     respond: Responder | None = None) -> dict[str, Any]:
        with self.uow() as uow:
            _, parties = self._load(uow, member_id, relationship_id)
            repo = WorkspaceRepository(uow.session)
            now = self.clock.now()
            recipient = parties.other(member_id)
            outstanding = repo.email_outstanding(relationship_id, recipient, now - MESSAGE_EMAIL_QUIET)
            message_id = str(uuid.uuid4())
            try:
                event = post_message(parties, message_id, member_id, body, email_outstanding=outstanding)
            except (WorkspaceInvalid, WorkspaceRefused) as exc:
                raise _problem(exc) from exc
            repo.add_message(message_id, relationship_id, member_id, recipient, body, now, emailed=event.notify)
            uow.record(event)
            view = {"id": message_id, "sender_id": member_id, "recipient_id": recipient, "body": body,
                    "sent_at": iso(now), "read_at": None, "mine": True, "recipient_emailed": event.notify}
            if respond is not None:
                respond(uow.session, 201, view, {"Location": f"/v1/relationships/{relationship_id}/messages"})
            uow.commit()
            return view

    def nudge_partner(self, member_id: str, relationship_id: str,
                      respond: Responder | None = None) -> dict[str, Any]:
        with self.uow() as uow:
            _, parties = self._load(uow, member_id, relationship_id)
            repo = WorkspaceRepository(uow.session)
            partner = parties.other(member_id)
            now = self.clock.now()
            try:
                event = nudge(parties, member_id, repo.last_active(relationship_id, partner),
                              repo.last_nudge(relationship_id, member_id), now)
            except WorkspaceRefused as exc:
                raise _problem(exc) from exc
            repo.add_nudge(str(uuid.uuid4()), relationship_id, member_id, partner, now)
            uow.record(event)
            view = {"relationship_id": relationship_id, "nudged": partner, "at": iso(now)}
            if respond is not None:
                respond(uow.session, 202, view, {})
            uow.commit()
            return view

    # --- dashboard -----------------------------------------------------------------------------
    def dashboard_fields(self, member_id: str, relationship_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Per relationship of mine: started and planned end dates, unread messages, the next
        meeting, when my partner was last active and whether I may nudge them.  For any list
        view to merge into its items (`GET /v1/dashboard` does)."""
        if not relationship_ids:
            return {}
        now = self.clock.now()
        with self.database.session() as session:
            repo = WorkspaceRepository(session)
            rows = [r for r in repo.parties_of(relationship_ids) if member_id in (r.mentor_id, r.mentee_id)]
            ids = [r.id for r in rows]
            unread = repo.unread_counts(member_id, ids)
            active = repo.last_active_many(ids)
            nudged = repo.last_nudges(ids)
            upcoming: dict[str, Meeting] = {}
            for meeting in repo.meetings(ids, scheduled_only=True, starting_after=now):
                if meeting.relationship_id not in upcoming:
                    upcoming[meeting.relationship_id] = meeting
        fields: dict[str, dict[str, Any]] = {}
        for row in rows:
            accepted_at = utc(row.accepted_at) if row.accepted_at else None
            parties = Parties(row.id, row.mentor_id, row.mentee_id, row.status, accepted_at)
            partner = parties.other(member_id)
            partner_active = active.get((row.id, partner)) if parties.workspace_open else None
            refusal = nudge_refusal(parties, member_id, partner_active, nudged.get((row.id, member_id)), now)
            nxt = upcoming.get(row.id)
            fields[row.id] = {
                "started_at": iso(accepted_at),
                "planned_end": iso(planned_end(accepted_at, row.duration_months)),
                "unread_messages": unread.get(row.id, 0),
                "next_meeting": {"id": nxt.id, "starts_at": iso(nxt.details.starts_at),
                                 "duration_minutes": nxt.details.duration_minutes, "mode": nxt.details.mode}
                if nxt else None,
                "first_conversation_open": parties.workspace_open,
                "partner_last_active_at": iso(partner_active),
                "can_nudge": refusal is None,
            }
        return fields

    def relationship_dashboard(self, member_id: str, relationship_id: str) -> dict[str, Any]:
        view = self.relationships.details(member_id, relationship_id)
        extra = self.dashboard_fields(member_id, [relationship_id]).get(relationship_id, {})
        keep = ("id", "status", "my_role", "counterpart", "actions", "created_at", "updated_at")
        return {**{k: view[k] for k in keep if k in view}, **extra}

    def my_dashboard(self, member_id: str, **filters: Any) -> dict[str, Any]:
        listing = self.relationships.list_relationships(member_id, **filters)
        extra = self.dashboard_fields(member_id, [item["id"] for item in listing["items"]])
        return {"items": [{**item, **extra.get(item["id"], {})} for item in listing["items"]],
                "next_cursor": listing["next_cursor"]}

    # --- account deletion ------------------------------------------------------------------------
    def refuse_deleted(self, member: Member) -> None:
        """Authenticator hook: a deleted member's tokens are refused from then on."""
        with self._deleted_lock:
            known = member.id in self._deleted
        if not known:
            with self.database.read_connection() as conn:
                known = conn.execute(_DELETED_ACCOUNT, {"member_id": member.id}).first() is not None
            if known:
                self._remember_deleted(member.id)
            else:
                self._not_deleted.add(member.id)
        if known:
            raise Problem(403, "This account was deleted; it can no longer use Connect. Contact the customer "
                               "service team to restore it or to have your personal data erased.",
                          type_="account-deleted")

    def _remember_deleted(self, member_id: str) -> None:
        """Deletion is final: refused from memory from now on, never confirmed in good standing."""
        with self._deleted_lock:
            self._deleted.add(member_id)
        self._not_deleted.discard(member_id)

    def confirmed_not_deleted(self, member: Member) -> bool:
        """Settles `refuse_deleted` from memory: a read found no deletion a moment ago."""
        return member.id in self._not_deleted and member.id not in self._deleted

    def delete_account(self, member: Member) -> dict[str, Any]:
        already = Problem(409, "This account is already deleted.", type_="account-deleted")
        try:
            with self.uow() as uow:
                repo = WorkspaceRepository(uow.session)
                if repo.deleted_account(member.id) is not None:
                    raise already
                now = self.clock.now()
                withdrawn = self._withdraw_everywhere(uow, repo, member.id, now)
                uow.session.execute(t.deleted_accounts.insert().values(member_id=member.id, deleted_at=now))
                uow.record(AccountDeleted(member_id=member.id))
                uow.commit()
        except IntegrityError as exc:  # a concurrent deletion of the same account committed first
            raise already from exc
        self._remember_deleted(member.id)
        return {"member_id": member.id, "deleted_at": iso(now), "withdrawn_relationships": withdrawn}

    def _withdraw_everywhere(self, uow: RelationshipsUnitOfWork, repo: WorkspaceRepository, member_id: str,
                             now: datetime, *, redact: bool = False) -> list[str]:
        """Withdraw from every pending and accepted relationship (partners hear through the
        usual withdrawal events) and cancel their future meetings (with .ics cancellations);
        `redact` (erasure) keeps agendas and places out of those cancellations."""
        withdrawn = []
        for relationship_id in repo.relationship_ids_of(member_id, (Status.PENDING.value, Status.ACCEPTED.value)):
            rel = uow.relationships.get(relationship_id)
            if rel is None or rel.status not in (Status.PENDING, Status.ACCEPTED):
                continue
            parties = self._parties(rel)
            for meeting in repo.meetings([rel.id], scheduled_only=True):
                if redact:
                    meeting.details = replace(meeting.details, agenda="", location_or_link="")
                meeting.cancel_for_withdrawal(parties, member_id, now, ACCOUNT_DELETED_REASON)
                if meeting.events:
                    repo.save_meeting(meeting)
                    for event in meeting.events:
                        uow.record(event)
            if rel.status is Status.PENDING and rel.role_of(member_id) is Role.MENTOR:
                # A mentor cannot withdraw a proposal sent to them; declining it is their way out.
                rel.reject(member_id, now, ACCOUNT_DELETED_REASON)
            else:
                rel.withdraw(member_id, now, ACCOUNT_DELETED_REASON)
            withdrawn.append(rel.id)
        return withdrawn

    # --- erasure ---------------------------------------------------------------------------------
    def _erase(self, uow: RelationshipsUnitOfWork, member_id: str, now: datetime) -> None:
        """Irreversibly anonymise the member in this service's database.

        In the member's relationships: their messages' bodies, the shared tools' contents
        (they describe the member's development), agendas and places of meetings, proposal
        texts and reasons they wrote, their support requests' messages are blanked; their
        membership number is replaced by one random pseudonym everywhere; sent outbox rows
        about them are deleted.  Only `deleted_accounts` keeps the number, to go on refusing
        their tokens.  The partner's own messages stay: they are the partner's data.
        """
        repo = WorkspaceRepository(uow.session)
        if self.database.is_sqlite:
            # Freed and overwritten cells are zeroed, not left readable in the file's free space.
            uow.session.execute(text("PRAGMA secure_delete=ON"))
        if repo.deleted_account(member_id) is None:
            self._withdraw_everywhere(uow, repo, member_id, now, redact=True)
            uow.session.execute(t.deleted_accounts.insert().values(member_id=member_id, deleted_at=now))
            uow.record(AccountDeleted(member_id=member_id))
        uow.flush()
        pseudonym = f"erased-{uuid.uuid4().hex[:12]}"
        s = uow.session
        rel_ids = repo.relationship_ids_of(member_id)
        rel = orm.relationships
        if rel_ids:
            s.execute(update(t.messages).where(t.messages.c.relationship_id.in_(rel_ids),
                                               t.messages.c.sender_id == member_id).values(body=""))
            tool_ids = select(t.tools.c.id).where(t.tools.c.relationship_id.in_(rel_ids))
            s.execute(update(t.tool_versions).where(t.tool_versions.c.tool_id.in_(tool_ids)).values(content={}))
            s.execute(update(t.meetings).where(t.meetings.c.relationship_id.in_(rel_ids))
                      .values(agenda="", location_or_link=""))
            s.execute(update(orm.proposal_versions).where(orm.proposal_versions.c.relationship_id.in_(rel_ids))
                      .values(message="", goals=""))
            s.execute(update(orm.status_history).where(orm.status_history.c.relationship_id.in_(rel_ids),
                                                       orm.status_history.c.actor_id == member_id)
                      .values(reason=None))
            s.execute(delete(orm.outbox).where(orm.outbox.c.key.in_(rel_ids), orm.outbox.c.published_at.isnot(None)))
        renames = [
            (rel, rel.c.mentor_id), (rel, rel.c.mentee_id), (rel, rel.c.withdrawn_by),
            (orm.proposal_versions, orm.proposal_versions.c.author_id),
            (orm.status_history, orm.status_history.c.actor_id),
            (t.meetings, t.meetings.c.organiser_id), (t.tool_versions, t.tool_versions.c.author_id),
            (t.messages, t.messages.c.sender_id), (t.messages, t.messages.c.recipient_id),
            (t.nudges, t.nudges.c.sender_id), (t.nudges, t.nudges.c.recipient_id),
            (t.support_requests, t.support_requests.c.resolved_by),
        ]
        for table, column in renames:
            s.execute(update(table).where(column == member_id).values({column.name: pseudonym}))
        s.execute(update(t.support_requests).where(t.support_requests.c.member_id == member_id)
                  .values(message="", resolution_note=None, member_id=pseudonym))
        s.execute(delete(t.learning_notes).where(t.learning_notes.c.member_id == member_id))
        s.execute(delete(orm.members).where(orm.members.c.member_id == member_id))
        s.execute(delete(orm.idempotency_keys).where(orm.idempotency_keys.c.member_id == member_id))
        s.execute(delete(orm.outbox).where(orm.outbox.c.key == member_id, orm.outbox.c.published_at.isnot(None)))
        s.execute(update(t.deleted_accounts).where(t.deleted_accounts.c.member_id == member_id)
                  .values(erased_at=now))
        uow.record(MemberErased(member_id=member_id))

    # --- support requests ------------------------------------------------------------------------
    @staticmethod
    def _support_view(row: Any) -> dict[str, Any]:
        return {"id": row.id, "member_id": row.member_id, "kind": row.kind, "relationship_id": row.relationship_id,
                "message": row.message, "status": row.status, "outcome": row.outcome,
                "resolution_note": row.resolution_note, "resolved_by": row.resolved_by,
                "created_at": iso(row.created_at), "resolved_at": iso(row.resolved_at)}

    def create_support_request(self, member: Member, kind: SupportKind, relationship_id: str | None, message: str,
                               respond: Responder | None = None, on_behalf_of: str | None = None) -> dict[str, Any]:
        """A member's request; the support team may file one `on_behalf_of` a member who called
        (a deleted member can no longer sign in to ask for erasure themselves)."""
        if on_behalf_of and not member.is_support:
            raise Problem(403, "Only the customer service team files requests on a member's behalf.",
                          type_="support-only")
        owner = on_behalf_of or member.id
        try:
            check_support_request(kind, relationship_id, message)
        except WorkspaceInvalid as exc:
            raise _problem(exc) from exc
        with self.uow() as uow:
            if relationship_id:
                self._load(uow, owner, relationship_id, lock=False)
            now = self.clock.now()
            request_id = str(uuid.uuid4())
            uow.session.execute(t.support_requests.insert().values(
                id=request_id, member_id=owner, kind=kind.value, relationship_id=relationship_id,
                message=message, status="open", created_at=now))
            uow.record(SupportRequestCreated(request_id=request_id, member_id=owner, kind=kind.value,
                                             relationship_id=relationship_id))
            row = uow.session.execute(select(t.support_requests).where(t.support_requests.c.id == request_id)).one()
            view = self._support_view(row)
            if respond is not None:
                respond(uow.session, 201, view, {"Location": f"/v1/support-requests/{request_id}"})
            uow.commit()
            return view

    def list_support_requests(self, member: Member, status: str | None, limit: int) -> dict[str, Any]:
        query = select(t.support_requests)
        if not member.is_support:
            query = query.where(t.support_requests.c.member_id == member.id)
        if status:
            query = query.where(t.support_requests.c.status == status)
        with self.database.session() as session:
            rows = session.execute(query.order_by(t.support_requests.c.created_at.desc()).limit(limit)).all()
        return {"items": [self._support_view(row) for row in rows]}

    def _support_row(self, session: Any, member: Member, request_id: str) -> Any:
        row = session.execute(select(t.support_requests).where(t.support_requests.c.id == request_id)).first()
        if row is None or not (member.is_support or row.member_id == member.id):
            raise Problem(404, f"No support request {request_id} of yours.", type_="not-found")
        return row

    def get_support_request(self, member: Member, request_id: str) -> dict[str, Any]:
        with self.database.session() as session:
            return self._support_view(self._support_row(session, member, request_id))

    def resolve_support_request(self, member: Member, request_id: str, outcome: SupportOutcome,
                                note: str | None) -> dict[str, Any]:
        with self.uow() as uow:
            row = self._support_row(uow.session, member, request_id)
            if not member.is_support:
                raise Problem(403, "Only the customer service team resolves support requests.",
                              type_="support-only")
            try:
                check_resolution(SupportKind(row.kind), row.status, outcome)
            except (WorkspaceInvalid, WorkspaceRefused) as exc:
                raise _problem(exc) from exc
            now = self.clock.now()
            owner = row.member_id
            uow.session.execute(update(t.support_requests).where(t.support_requests.c.id == request_id).values(
                status="resolved", outcome=outcome.value, resolution_note=note, resolved_by=member.id,
                resolved_at=now))
            uow.record(SupportRequestResolved(request_id=request_id, member_id=owner, kind=row.kind,
                                              relationship_id=row.relationship_id, outcome=outcome.value,
                                              resolved_by=member.id))
            if outcome is SupportOutcome.APPROVED:
                self._erase(uow, owner, now)
            row = uow.session.execute(select(t.support_requests).where(t.support_requests.c.id == request_id)).one()
            view = self._support_view(row)
            uow.commit()
        if outcome is SupportOutcome.APPROVED:
            self._remember_deleted(owner)
            self.database.expunge_erased()
        return view

    def support_relationship_view(self, member: Member, relationship_id: str) -> dict[str, Any]:
        """For the customer service team: who, status, dates and activity counts — never what
        members wrote (messages, tools, proposal text, reasons, agendas)."""
        with self.uow() as uow:
            rel = uow.relationships.get(relationship_id, for_update=False)
            if rel is None or not member.is_support:
                # Members use the relationship's own routes; here they find nothing.
                raise Problem(404, f"No relationship {relationship_id}.", type_="not-found")
            s = uow.session
            history = s.execute(select(orm.status_history.c.action, orm.status_history.c.to_status,
                                       orm.status_history.c.actor_id, orm.status_history.c.at)
                                .where(orm.status_history.c.relationship_id == relationship_id)
                                .order_by(orm.status_history.c.id)).all()
            repo = WorkspaceRepository(s)
            messages = s.execute(select(t.messages.c.sender_id, t.messages.c.sent_at)
                                 .where(t.messages.c.relationship_id == relationship_id)).all()
            meetings = repo.meetings([relationship_id])
            tools = repo.tools(relationship_id)
            return {
                "id": rel.id, "status": rel.status.value, "mentor_id": rel.mentor_id, "mentee_id": rel.mentee_id,
                "created_at": iso(rel.created_at), "updated_at": iso(rel.updated_at),
                "accepted_at": iso(rel.accepted_at),
                "planned_end": iso(planned_end(rel.accepted_at, rel.proposal.content.duration_months)),
                "status_history": [{"action": h.action, "to_status": h.to_status, "actor_id": h.actor_id,
                                    "at": iso(h.at)} for h in history],
                "messages": {"count": len(messages),
                             "last_at": iso(max((m.sent_at for m in messages), default=None)),
                             "by_member": {mid: sum(1 for m in messages if m.sender_id == mid)
                                           for mid in (rel.mentor_id, rel.mentee_id)}},
                "meetings": [{"id": m.id, "starts_at": iso(m.details.starts_at), "status": m.status.value,
                              "duration_minutes": m.details.duration_minutes, "mode": m.details.mode}
                             for m in meetings],
                "tools": {kind.value: sum(1 for x in tools if x.kind is kind) for kind in ToolKind},
                "last_active": {mid: iso(repo.last_active(relationship_id, mid))
                                for mid in (rel.mentor_id, rel.mentee_id)},
            }

    # --- CPD record --------------------------------------------------------------------------------
    def cpd_record(self, member_id: str) -> dict[str, Any]:
        """Mentoring activity for a CPD log: each relationship that was accepted, each meeting
        held (not cancelled, over) with its minutes, and each goal with the learning outcomes
        noted on it."""
        now = self.clock.now()
        rows: list[CpdRow] = []
        with self.uow() as uow:
            s = uow.session
            repo = WorkspaceRepository(s)
            started = {r.relationship_id: utc(r.at) for r in s.execute(
                select(orm.status_history.c.relationship_id, orm.status_history.c.at)
                .where(orm.status_history.c.to_status == Status.ACCEPTED.value,
                       orm.status_history.c.relationship_id.in_(repo.relationship_ids_of(member_id)))
                .order_by(orm.status_history.c.id))}
            rels = [rel for rid in started if (rel := uow.relationships.get(rid, for_update=False))]
            names = self.relationships._names(s, {rel.mentor_id for rel in rels} | {rel.mentee_id for rel in rels})
            notes = {r.relationship_id: r.outcomes for r in s.execute(
                select(t.learning_notes.c.relationship_id, t.learning_notes.c.outcomes)
                .where(t.learning_notes.c.member_id == member_id))}
            info = {}
            for rel in rels:
                role = rel.role_of(member_id)
                other = rel.mentee_id if rel.mentor_id == member_id else rel.mentor_id
                info[rel.id] = (role.value if role else "", names.get(other, other))
                rows.append(CpdRow("relationship", rel.id, info[rel.id][0], info[rel.id][1],
                                   started[rel.id].date().isoformat(), title=", ".join(rel.proposal.content.areas),
                                   status=rel.status.value, learning_outcomes=notes.get(rel.id, "")))
            for meeting in repo.meetings(list(info), scheduled_only=True):
                if meeting.held_by(now):
                    role, other = info[meeting.relationship_id]
                    rows.append(CpdRow("meeting", meeting.relationship_id, role, other,
                                       meeting.details.starts_at.date().isoformat(),
                                       minutes=meeting.details.duration_minutes, title=meeting.details.agenda[:200],
                                       status="held"))
            for tool in repo.tools_of(list(info), ToolKind.GOALS):
                role, other = info[tool.relationship_id]
                c = tool.current.content
                rows.append(CpdRow("goal", tool.relationship_id, role, other,
                                   c.get("target_date") or tool.created_at.date().isoformat(), title=c.get("goal", ""),
                                   status=c.get("status", ""), learning_outcomes=c.get("learning_outcomes", "")))
        rows.sort(key=lambda r: (r.date, r.activity, r.relationship_id))
        return {"member_id": member_id, "generated_at": iso(now), "totals": cpd_totals(rows),
                "activities": [asdict(r) for r in rows]}

    @staticmethod
    def cpd_csv(record: dict[str, Any]) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(CPD_COLUMNS), lineterminator="\r\n")
        writer.writeheader()
        for row in record["activities"]:
            writer.writerow({k: "" if row[k] is None else row[k] for k in CPD_COLUMNS})
        return out.getvalue()


#: What two members can share, in the order ice-breakers mention them.
CONNECTION_KINDS = ("sectors", "employer", "region", "interests", "qualifications", "languages")


def _profile_facts(profile: dict[str, Any]) -> dict[str, list[str]]:
    location = profile.get("location") or {}
    facts = {
        "sectors": list(profile.get("sectors") or []),
        "employer": [profile["employer"]] if profile.get("employer") else [],
        "region": [location["region"]] if isinstance(location, dict) and location.get("region") else [],
        "interests": list(profile.get("interests") or []),
        "qualifications": list(profile.get("qualifications") or []),
        "languages": list(profile.get("languages") or []),
    }
    return {kind: [str(v) for v in values] for kind, values in facts.items()}


def shared_connections(mine: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What two members' profiles (each may hold a mentor and a mentee profile) have in common,
    as `[{"kind", "values"}]`; interests and employers compare without case."""
    def merged(profiles: list[dict[str, Any]]) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {kind: [] for kind in CONNECTION_KINDS}
        for profile in profiles:
            for kind, values in _profile_facts(profile).items():
                result[kind] += [v for v in values if v not in result[kind]]
        return result

    a, b = merged(mine), merged(theirs)
    shared = []
    for kind in CONNECTION_KINDS:
        other = {v.casefold() for v in b[kind]}
        common = [v for v in a[kind] if v.casefold() in other]
        if common:
            shared.append({"kind": kind, "values": common})
    return shared


class InProcessConnections:
    """Embedded shape: read both members' profiles from the matching service in this process
    (its facade's own profile reads) and compare them.  `HttpConnections` is the distributed one."""

    def __init__(self, matching: Callable[[], Any]) -> None:
        self._matching = matching

    def _profiles(self, matching: Any, member_id: str) -> list[dict[str, Any]]:
        found = []
        for read in (matching.get_mentee_profile, matching.get_mentor_profile):
            try:
                found.append(read(member_id))
            except Exception:  # no such profile (matching answers NotFound): nothing to compare
                continue
        return found

    def between(self, member_id: str, other_id: str) -> list[dict[str, Any]]:
        try:
            matching = self._matching()
            return shared_connections(self._profiles(matching, member_id), self._profiles(matching, other_id))
        except Exception as exc:  # matching down or not in this process: the first conversation still opens
            log.warning("no shared connections from matching: %s", exc)
            return []


class HttpConnections:
    """Distributed shape: matching's `GET /v1/members/{id}/connection-facts` for both members
    (the comparable fields only, asked with the service credential), compared here as in-process.
    Never raises: without matching the first conversation opens with prompts and no connections."""

    def __init__(self, base_url: str, token: Callable[[], str | None], timeout_seconds: float = 2.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_seconds = timeout_seconds

    def between(self, member_id: str, other_id: str) -> list[dict[str, Any]]:
        token = self.token()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            with httpx.Client(base_url=self.base_url, headers=headers, timeout=self.timeout_seconds) as http:
                facts = []
                for member in (member_id, other_id):
                    response = http.get(f"/v1/members/{member}/connection-facts")
                    response.raise_for_status()
                    facts.append(response.json()["profiles"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            log.warning("no shared connections from %s: %s", self.base_url, exc)
            return []
        return shared_connections(facts[0], facts[1])
