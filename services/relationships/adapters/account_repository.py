"""The account room's records inside the relationships unit of work's session
(`uow.accounts`): deleted accounts, support requests, and the statements that
anonymise an erased member across every table of the service."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, or_, select, update
from sqlalchemy.orm import Session

from services.relationships.adapters import orm

# Read on every request (the deleted-account hook), so built once, not per request.
_DELETED_ACCOUNT = select(orm.deleted_accounts.c.member_id).where(
    orm.deleted_accounts.c.member_id == bindparam("member_id"))


def is_deleted(connection: Connection, member_id: str) -> bool:
    """Whether the account was deleted, on a read connection (the authentication hook's path)."""
    return connection.execute(_DELETED_ACCOUNT, {"member_id": member_id}).first() is not None


class AccountRepository:
    def __init__(self, session: Session, *, row_locks: bool) -> None:
        self.session = session
        self.row_locks = row_locks  # SELECT ... FOR UPDATE (PostgreSQL); SQLite already holds the write lock

    # --- deleted accounts -------------------------------------------------------------------
    def deleted_account(self, member_id: str) -> Any | None:
        return self.session.execute(select(orm.deleted_accounts)
                                    .where(orm.deleted_accounts.c.member_id == member_id)).first()

    def add_deleted_account(self, member_id: str, at: datetime) -> None:
        self.session.execute(orm.deleted_accounts.insert().values(member_id=member_id, deleted_at=at))

    # --- support requests ---------------------------------------------------------------------
    def add_support_request(self, request_id: str, member_id: str, kind: str, relationship_id: str | None,
                            message: str, at: datetime) -> None:
        self.session.execute(orm.support_requests.insert().values(
            id=request_id, member_id=member_id, kind=kind, relationship_id=relationship_id, message=message,
            status="open", created_at=at))

    def support_request(self, request_id: str, *, for_update: bool = False) -> Any | None:
        """The request's row, locked for the rest of the transaction when `for_update`."""
        requests = orm.support_requests
        query = select(requests).where(requests.c.id == request_id)
        if for_update and self.row_locks:
            query = query.with_for_update()
        return self.session.execute(query).first()

    def support_requests(self, member_id: str | None, status: str | None, after: tuple[datetime, str] | None,
                         limit: int) -> Sequence[Any]:
        """Newest first, from after `after` (created_at, id); `member_id` None: everyone's (the support
        team's view)."""
        requests = orm.support_requests
        query = select(requests)
        if member_id is not None:
            query = query.where(requests.c.member_id == member_id)
        if status:
            query = query.where(requests.c.status == status)
        if after is not None:
            query = query.where(or_(requests.c.created_at < after[0],
                                    and_(requests.c.created_at == after[0], requests.c.id < after[1])))
        query = query.order_by(requests.c.created_at.desc(), requests.c.id.desc()).limit(limit)
        return self.session.execute(query).all()

    def resolve_support_request(self, request_id: str, outcome: str, note: str | None, resolved_by: str,
                                at: datetime) -> None:
        requests = orm.support_requests
        self.session.execute(update(requests).where(requests.c.id == request_id).values(
            status="resolved", outcome=outcome, resolution_note=note, resolved_by=resolved_by, resolved_at=at))

    def add_support_message(self, message_id: str, request_id: str, author_id: str, recipient_id: str, body: str,
                            at: datetime) -> None:
        self.session.execute(orm.support_messages.insert().values(
            id=message_id, request_id=request_id, author_id=author_id, recipient_id=recipient_id, body=body,
            sent_at=at))

    def support_messages(self, request_id: str) -> Sequence[Any]:
        messages = orm.support_messages
        return self.session.execute(select(messages).where(messages.c.request_id == request_id)
                                    .order_by(messages.c.sent_at, messages.c.id)).all()

    # --- erasure ------------------------------------------------------------------------------
    def anonymise(self, member_id: str, pseudonym: str, relationship_ids: list[str], at: datetime) -> None:
        """Blank what the member wrote in their relationships and replace their membership
        number by `pseudonym` everywhere; only `deleted_accounts` keeps the number (marked erased).
        (The events already sent about them go through the unit of work: `uow.forget_sent`.)"""
        session = self.session
        if relationship_ids:
            in_theirs = orm.messages.c.relationship_id.in_(relationship_ids)
            session.execute(update(orm.messages).where(in_theirs, orm.messages.c.sender_id == member_id)
                            .values(body=""))
            tool_ids = select(orm.tools.c.id).where(orm.tools.c.relationship_id.in_(relationship_ids))
            session.execute(update(orm.tool_versions).where(orm.tool_versions.c.tool_id.in_(tool_ids))
                            .values(content={}))
            session.execute(update(orm.meetings).where(orm.meetings.c.relationship_id.in_(relationship_ids))
                            .values(agenda="", location_or_link=""))
            session.execute(update(orm.proposal_versions)
                            .where(orm.proposal_versions.c.relationship_id.in_(relationship_ids))
                            .values(message="", goals=""))
            session.execute(update(orm.status_history)
                            .where(orm.status_history.c.relationship_id.in_(relationship_ids),
                                   orm.status_history.c.actor_id == member_id)
                            .values(reason=None))
        renames = [
            (orm.relationships, orm.relationships.c.mentor_id), (orm.relationships, orm.relationships.c.mentee_id),
            (orm.relationships, orm.relationships.c.withdrawn_by),
            (orm.proposal_versions, orm.proposal_versions.c.author_id),
            (orm.status_history, orm.status_history.c.actor_id),
            (orm.meetings, orm.meetings.c.organiser_id), (orm.tool_versions, orm.tool_versions.c.author_id),
            (orm.messages, orm.messages.c.sender_id), (orm.messages, orm.messages.c.recipient_id),
            (orm.nudges, orm.nudges.c.sender_id), (orm.nudges, orm.nudges.c.recipient_id),
            (orm.support_requests, orm.support_requests.c.resolved_by),
        ]
        for table, column in renames:
            session.execute(update(table).where(column == member_id).values({column.name: pseudonym}))
        # Messages the team sent the member as a partner, and those sent on the member's behalf.
        own_requests = select(orm.support_requests.c.id).where(orm.support_requests.c.member_id == member_id)
        session.execute(update(orm.support_messages).where(or_(orm.support_messages.c.recipient_id == member_id,
                                                               orm.support_messages.c.request_id.in_(own_requests)))
                        .values(body=""))
        session.execute(update(orm.support_messages).where(orm.support_messages.c.recipient_id == member_id)
                        .values(recipient_id=pseudonym))
        session.execute(update(orm.support_requests).where(orm.support_requests.c.member_id == member_id)
                        .values(message="", resolution_note=None, member_id=pseudonym))
        session.execute(delete(orm.learning_notes).where(orm.learning_notes.c.member_id == member_id))
        # Offered as an alternative mentor somewhere: their name and headline leave those lists.
        session.execute(delete(orm.alternatives).where(orm.alternatives.c.member_id == member_id))
        session.execute(delete(orm.members).where(orm.members.c.member_id == member_id))
        session.execute(delete(orm.idempotency_keys).where(orm.idempotency_keys.c.member_id == member_id))
        session.execute(update(orm.deleted_accounts).where(orm.deleted_accounts.c.member_id == member_id)
                        .values(erased_at=at))
