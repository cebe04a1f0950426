"""Account use cases: deleting an account (and refusing its tokens from then on),
support requests, erasure when customer service approves one, the support team's
view of a relationship, and a member's CPD record.

Like every room, each command runs in the relationships service's unit of work,
so a deletion's withdrawals, meeting cancellations and events commit together.
"""

from __future__ import annotations

import csv
import io
import threading
import uuid
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any, Callable

from sqlalchemy.exc import IntegrityError

from connect.auth import Member, RecentlyConfirmed
from connect.clock import Clock, utc
from connect.db import Database
from connect.errors import NotFound
from connect.uow import Receipt
from schemas.events import (AccountDeleted, MemberErased, SupportMessageSentToPartner, SupportRequestCreated,
                            SupportRequestResolved)
from services.relationships.account.domain import (ACCOUNT_DELETED_REASON, CPD_COLUMNS, AccountDeletedRefused,
                                                   AlreadyDeleted, CpdRow, NoSuchSupportRequest, SupportKind,
                                                   SupportOnly, SupportOutcome, check_partner_message,
                                                   check_resolution, check_support_request, cpd_totals)
from services.relationships.adapters.account_repository import is_deleted
from services.relationships.adapters.repository import RelationshipsUnitOfWork
from services.relationships.proposals.domain import Status, planned_end
from services.relationships.proposals.services import iso, relationship_for
from services.relationships.workspace.domain import ToolKind
from services.relationships.workspace.services import parties_of


def support_view(row: Any) -> dict[str, Any]:
    return {"id": row.id, "member_id": row.member_id, "kind": row.kind, "relationship_id": row.relationship_id,
            "message": row.message, "status": row.status, "outcome": row.outcome,
            "resolution_note": row.resolution_note, "resolved_by": row.resolved_by,
            "created_at": iso(row.created_at), "resolved_at": iso(row.resolved_at)}


def _partner_message_view(row: Any) -> dict[str, Any]:
    return {"id": row.id, "request_id": row.request_id, "author_id": row.author_id,
            "recipient_id": row.recipient_id, "body": row.body, "sent_at": iso(row.sent_at)}


class AccountService:
    def __init__(self, uow: Callable[[], RelationshipsUnitOfWork], database: Database, clock: Clock) -> None:
        self.uow = uow
        self.database = database
        self.clock = clock
        self._deleted: set[str] = set()  # deletion is final: once seen, never asked again
        self._deleted_lock = threading.Lock()
        self._not_deleted = RecentlyConfirmed()

    # --- deleted accounts are refused --------------------------------------------------------
    def refuse_deleted(self, member: Member) -> None:
        """Authenticator hook: a deleted member's tokens are refused from then on."""
        with self._deleted_lock:
            known = member.id in self._deleted
        if not known:
            with self.database.read_connection() as connection:
                known = is_deleted(connection, member.id)
            if known:
                self._remember_deleted(member.id)
            else:
                self._not_deleted.add(member.id)
        if known:
            raise AccountDeletedRefused()

    def _remember_deleted(self, member_id: str) -> None:
        """Deletion is final: refused from memory from now on, never confirmed in good standing."""
        with self._deleted_lock:
            self._deleted.add(member_id)
        self._not_deleted.discard(member_id)

    def confirmed_not_deleted(self, member: Member) -> bool:
        """Settles `refuse_deleted` from memory: a read found no deletion a moment ago."""
        return member.id in self._not_deleted and member.id not in self._deleted

    # --- deletion and erasure ------------------------------------------------------------------
    def delete_account(self, member: Member) -> dict[str, Any]:
        try:
            with self.uow() as uow:
                if uow.accounts.deleted_account(member.id) is not None:
                    raise AlreadyDeleted()
                now = self.clock.now()
                withdrawn = self._withdraw_everywhere(uow, member.id, now)
                uow.accounts.add_deleted_account(member.id, now)
                uow.record(AccountDeleted(member_id=member.id))
                uow.commit()
        except IntegrityError as exc:  # a concurrent deletion of the same account committed first
            raise AlreadyDeleted() from exc
        self._remember_deleted(member.id)
        return {"member_id": member.id, "deleted_at": iso(now), "withdrawn_relationships": withdrawn}

    @staticmethod
    def _withdraw_everywhere(uow: RelationshipsUnitOfWork, member_id: str, now: datetime, *,
                             redact: bool = False) -> list[str]:
        """Withdraw from every pending and accepted relationship (partners hear through the
        usual withdrawal events) and cancel their future meetings (with .ics cancellations);
        `redact` (erasure) keeps agendas and places out of those cancellations."""
        withdrawn = []
        for relationship_id in uow.relationships.ids_of(member_id, (Status.PENDING.value, Status.ACCEPTED.value)):
            rel = uow.relationships.get(relationship_id)
            if rel is None or rel.status not in (Status.PENDING, Status.ACCEPTED):
                continue
            parties = parties_of(rel)
            for meeting in uow.workspace.meetings([rel.id], scheduled_only=True):
                if redact:
                    meeting.details = replace(meeting.details, agenda="", location_or_link="")
                meeting.cancel_for_withdrawal(parties, member_id, now, ACCOUNT_DELETED_REASON)
                if meeting.events:
                    uow.workspace.save_meeting(meeting)
                    uow.record_events_of(meeting)
            rel.leave_connect(member_id, now, ACCOUNT_DELETED_REASON)
            withdrawn.append(rel.id)
        return withdrawn

    def _erase(self, uow: RelationshipsUnitOfWork, member_id: str, now: datetime) -> None:
        """Irreversibly anonymise the member in this service's database.

        In the member's relationships: their messages' bodies, the shared tools' contents
        (they describe the member's development), agendas and places of meetings, proposal
        texts and reasons they wrote, their support requests' messages are blanked; their
        membership number is replaced by one random pseudonym everywhere; sent outbox rows
        about them are deleted.  Only `deleted_accounts` keeps the number, to go on refusing
        their tokens.  The partner's own messages stay: they are the partner's data.
        """
        uow.zero_freed_space()
        if uow.accounts.deleted_account(member_id) is None:
            self._withdraw_everywhere(uow, member_id, now, redact=True)
            uow.accounts.add_deleted_account(member_id, now)
            uow.record(AccountDeleted(member_id=member_id))
        uow.flush()
        pseudonym = f"erased-{uuid.uuid4().hex[:12]}"
        relationship_ids = uow.relationships.ids_of(member_id)
        uow.accounts.anonymise(member_id, pseudonym, relationship_ids, now)
        uow.forget_sent([*relationship_ids, member_id])
        uow.record(MemberErased(member_id=member_id))

    # --- support requests ------------------------------------------------------------------------
    def create_support_request(self, member: Member, kind: SupportKind, relationship_id: str | None, message: str,
                               receipt: Receipt | None = None, on_behalf_of: str | None = None) -> dict[str, Any]:
        """A member's request; the support team may file one `on_behalf_of` a member who called
        (a deleted member can no longer sign in to ask for erasure themselves)."""
        if on_behalf_of and not member.is_support:
            raise SupportOnly("Only the customer service team files requests on a member's behalf.")
        owner = on_behalf_of or member.id
        check_support_request(kind, relationship_id, message)
        with self.uow() as uow:
            if relationship_id:
                relationship_for(uow, owner, relationship_id, lock=False)
            request_id = str(uuid.uuid4())
            uow.accounts.add_support_request(request_id, owner, kind.value, relationship_id, message,
                                             self.clock.now())
            uow.record(SupportRequestCreated(request_id=request_id, member_id=owner, kind=kind.value,
                                             relationship_id=relationship_id))
            view = support_view(uow.accounts.support_request(request_id))
            uow.keep(receipt, view)
            uow.commit()
            return view

    def list_support_requests(self, member: Member, status: str | None, after: tuple[datetime, str] | None = None,
                              limit: int = 20) -> dict[str, Any]:
        """Newest first from after `after` (created_at, id); `next_cursor` is where the next page starts."""
        with self.uow() as uow:
            rows = uow.accounts.support_requests(None if member.is_support else member.id, status, after, limit + 1)
        page, more = rows[:limit], len(rows) > limit
        return {"items": [support_view(row) for row in page],
                "next_cursor": (utc(page[-1].created_at), page[-1].id) if more else None}

    @staticmethod
    def _support_request(uow: RelationshipsUnitOfWork, member: Member, request_id: str, *,
                         lock: bool = False) -> Any:
        """The request, when `member` may see it (locked for the transaction when `lock`)."""
        row = uow.accounts.support_request(request_id, for_update=lock)
        if row is None or not (member.is_support or row.member_id == member.id):
            raise NoSuchSupportRequest(request_id)
        return row

    def get_support_request(self, member: Member, request_id: str) -> dict[str, Any]:
        """The request; for the support team, a contact_partner request also shows the partner's
        name and email and what the team wrote to them (nowhere else do they see a partner's email)."""
        with self.uow() as uow:
            row = self._support_request(uow, member, request_id)
            view = support_view(row)
            if member.is_support and row.kind == SupportKind.CONTACT_PARTNER.value and row.relationship_id:
                view["partner"] = self._partner(uow, row)
                view["partner_messages"] = [_partner_message_view(m)
                                            for m in uow.accounts.support_messages(request_id)]
            return view

    @staticmethod
    def _partner(uow: RelationshipsUnitOfWork, row: Any) -> dict[str, Any] | None:
        rel = uow.relationships.get(row.relationship_id, for_update=False)
        if rel is None or rel.role_of(row.member_id) is None:
            return None  # erased since: no partner to show
        partner_id = rel.mentee_id if rel.mentor_id == row.member_id else rel.mentor_id
        known = uow.members.get(partner_id)
        return {"member_id": partner_id, "name": known.name if known else None,
                "email": known.email if known else None,
                "role": "mentee" if partner_id == rel.mentee_id else "mentor"}

    def send_partner_message(self, member: Member, request_id: str, body: str,
                             receipt: Receipt | None = None) -> dict[str, Any]:
        """The support team writes to the requester's partner through Connect: recorded on the
        request and emailed to the partner (the event commits with the record).  The request's
        row is locked, so a resolution racing the message waits for it, or refuses it."""
        with self.uow() as uow:
            row = self._support_request(uow, member, request_id, lock=True)
            if not member.is_support:
                raise SupportOnly("Only the customer service team writes to a member's partner.")
            body = check_partner_message(SupportKind(row.kind), row.status, row.relationship_id, body)
            partner = self._partner(uow, row)
            rel = uow.relationships.get(row.relationship_id, for_update=False)
            if partner is None or rel is None:
                raise NotFound(f"The relationship of support request {request_id} is gone.")
            now = self.clock.now()
            message_id = str(uuid.uuid4())
            uow.accounts.add_support_message(message_id, request_id, member.id, partner["member_id"], body, now)
            uow.record(SupportMessageSentToPartner(
                relationship_id=rel.id, mentor_id=rel.mentor_id, mentee_id=rel.mentee_id, actor_id=member.id,
                request_id=request_id, recipient_id=partner["member_id"], message=body))
            view = {"id": message_id, "request_id": request_id, "author_id": member.id,
                    "recipient_id": partner["member_id"], "body": body, "sent_at": iso(now)}
            uow.keep(receipt, view)
            uow.commit()
            return view

    def resolve_support_request(self, member: Member, request_id: str, outcome: SupportOutcome,
                                note: str | None) -> dict[str, Any]:
        # Locked: of two racing resolutions the second sees the request resolved instead of
        # overwriting the first's outcome (and erasing twice).
        with self.uow() as uow:
            row = self._support_request(uow, member, request_id, lock=True)
            if not member.is_support:
                raise SupportOnly("Only the customer service team resolves support requests.")
            check_resolution(SupportKind(row.kind), row.status, outcome)
            now = self.clock.now()
            owner = row.member_id
            uow.accounts.resolve_support_request(request_id, outcome.value, note, member.id, now)
            uow.record(SupportRequestResolved(request_id=request_id, member_id=owner, kind=row.kind,
                                              relationship_id=row.relationship_id, outcome=outcome.value,
                                              resolved_by=member.id, note=note))
            if outcome is SupportOutcome.APPROVED:
                self._erase(uow, owner, now)
            view = support_view(uow.accounts.support_request(request_id))
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
                raise NotFound(f"No relationship {relationship_id}.")
            history = uow.relationships.history(relationship_id)
            messages = uow.workspace.message_senders(relationship_id)
            meetings = uow.workspace.meetings([relationship_id])
            tools = uow.workspace.tools(relationship_id)
            parties = (rel.mentor_id, rel.mentee_id)
            return {
                "id": rel.id, "status": rel.status.value, "mentor_id": rel.mentor_id, "mentee_id": rel.mentee_id,
                "created_at": iso(rel.created_at), "updated_at": iso(rel.updated_at),
                "accepted_at": iso(rel.accepted_at),
                "planned_end": iso(planned_end(rel.accepted_at, rel.proposal.content.duration_months)),
                "status_history": [{"action": h.action, "to_status": h.to_status, "actor_id": h.actor_id,
                                    "at": iso(h.at)} for h in history],
                "messages": {"count": len(messages),
                             "last_at": iso(max((m.sent_at for m in messages), default=None)),
                             "by_member": {mid: sum(1 for m in messages if m.sender_id == mid) for mid in parties}},
                "meetings": [{"id": m.id, "starts_at": iso(m.details.starts_at), "status": m.status.value,
                              "duration_minutes": m.details.duration_minutes, "mode": m.details.mode}
                             for m in meetings],
                "tools": {kind.value: sum(1 for x in tools if x.kind is kind) for kind in ToolKind},
                "last_active": {mid: iso(uow.workspace.last_active(relationship_id, mid)) for mid in parties},
            }

    # --- CPD record --------------------------------------------------------------------------------
    def cpd_record(self, member_id: str) -> dict[str, Any]:
        """Mentoring activity for a CPD log: each relationship that was accepted, each meeting
        held (not cancelled, over) with its minutes, and each goal with the learning outcomes
        noted on it."""
        now = self.clock.now()
        rows: list[CpdRow] = []
        with self.uow() as uow:
            started = uow.relationships.accepted_at(uow.relationships.ids_of(member_id))
            rels = [rel for rid in started if (rel := uow.relationships.get(rid, for_update=False))]
            names = uow.members.names({rel.mentor_id for rel in rels} | {rel.mentee_id for rel in rels})
            notes = uow.workspace.learning_notes_of(member_id)
            info = {}
            for rel in rels:
                role = rel.role_of(member_id)
                other = rel.mentee_id if rel.mentor_id == member_id else rel.mentor_id
                info[rel.id] = (role.value if role else "", names.get(other, other))
                rows.append(CpdRow("relationship", rel.id, info[rel.id][0], info[rel.id][1],
                                   started[rel.id].date().isoformat(), title=", ".join(rel.proposal.content.areas),
                                   status=rel.status.value, learning_outcomes=notes.get(rel.id, "")))
            for meeting in uow.workspace.meetings(list(info), scheduled_only=True):
                if meeting.held_by(now):
                    role, other = info[meeting.relationship_id]
                    rows.append(CpdRow("meeting", meeting.relationship_id, role, other,
                                       meeting.details.starts_at.date().isoformat(),
                                       minutes=meeting.details.duration_minutes, title=meeting.details.agenda[:200],
                                       status="held"))
            for tool in uow.workspace.tools_of(list(info), ToolKind.GOALS):
                role, other = info[tool.relationship_id]
                content = tool.current.content
                rows.append(CpdRow("goal", tool.relationship_id, role, other,
                                   content.get("target_date") or tool.created_at.date().isoformat(),
                                   title=content.get("goal", ""), status=content.get("status", ""),
                                   learning_outcomes=content.get("learning_outcomes", "")))
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
