"""Notifier use cases: keep the recipients directory, decide who must hear about an
event, and send each (event, recipient) email once."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from datetime import datetime
from email.utils import parseaddr
from typing import Any, Iterable, Iterator

from connect.clock import Clock, utc
from connect.db import Database
from connect.email import EmailSender, PermanentEmailError, TransientEmailError
from connect.events import PoisonMessage
from schemas.events import AccountDeleted, Envelope, EventData, MemberDetailsChanged, MemberErased
from services.notifier.adapters.calendar import invite_attachment
from services.notifier.adapters.rendering import TemplateRenderer, build_message
from services.notifier.adapters.repository import NotifierUnitOfWork
from services.notifier.domain.feed import FeedEntry, NoSuchNotification, entries_for, shown_name
from services.notifier.domain.recipients import Recipient
from services.notifier.domain.rules import (SUPPORT_TEAM, Attachment, Notification, message_id_for,
                                            notifications_for, portal_page)

log = logging.getLogger(__name__)


class NotifierService:
    def __init__(self, database: Database, clock: Clock, email: EmailSender,
                 sender: str = "Connect <connect@example.org>", renderer: TemplateRenderer | None = None,
                 ledger_group: int = 1, portal_url: str = "http://127.0.0.1:8000",
                 support_address: str | None = None) -> None:
        self.database = database
        # Confirmations per ledger write on the batch path: >1 saves database round trips but widens
        # the duplicate window after a crash to that many accepted, unconfirmed emails per thread.
        self.ledger_group = ledger_group
        self.clock = clock
        self.email = email
        self.sender = sender
        self.portal_url = portal_url.rstrip("/")
        # The customer service team's mailbox, the recipient SUPPORT_TEAM stands for.
        name, address = parseaddr(support_address or "")
        self.support_team = Recipient(SUPPORT_TEAM, name or "Connect customer service", address or None)
        self.renderer = renderer or TemplateRenderer()
        # The same events' other reader: the members' notification feeds (consumer `FeedProjector`).
        self.feed = NotificationFeed(database, clock, self.renderer)

    def uow(self) -> NotifierUnitOfWork:
        return NotifierUnitOfWork(self.database, self.clock)

    # --- the recipients directory ---------------------------------------------------
    def details_changed(self, member_id: str, name: str, email: str) -> None:
        with self.uow() as uow:
            current = uow.directory.get(member_id)
            if current is not None and current.erased:
                return  # erasure is final: a late or replayed event must not bring the data back
            uow.directory.put(member_id, self.clock.now(), name=name, email=email)
            uow.commit()

    def deactivated(self, member_id: str) -> None:
        with self.uow() as uow:
            uow.directory.put(member_id, self.clock.now(), active=False)
            uow.commit()

    def erased(self, member_id: str) -> None:
        with self.uow() as uow:
            uow.zero_freed_space()
            uow.directory.put(member_id, self.clock.now(), name=None, email=None, active=False, erased=True)
            uow.commit()
        self.database.expunge_erased()

    def recipient(self, member_id: str) -> Recipient | None:
        with self.uow() as uow:
            return uow.directory.get(member_id)

    def recipients(self, member_ids: set[str]) -> dict[str, Recipient]:
        with self.uow() as uow:
            return uow.directory.get_many(member_ids)

    def ledger(self, event_ids: Iterable[str]) -> dict[str, dict[str, bool]]:
        """Per event, each recipient in the deliveries ledger: True when confirmed sent, False when
        only claimed."""
        with self.uow() as uow:
            return uow.deliveries.ledger_many(event_ids)

    # --- events ----------------------------------------------------------------------
    def handle(self, envelope: Envelope, event: EventData) -> None:
        """One event: each accepted email is confirmed at once (ledger group of one)."""
        with self.batch([(envelope, event)], ledger_group=1) as batch:
            batch.handle(envelope, event)

    @contextmanager
    def batch(self, items: list[tuple[Envelope, EventData]], ledger_group: int | None = None) -> Iterator["Batch"]:
        """Events handled together (the consumer's fast path): one ledger query and one directory
        query for all of them, their emails claimed in one statement, confirmations written in
        groups of `ledger_group`.  Whatever happens inside, what the server accepted is confirmed
        on the way out, before anything is retried."""
        batch = Batch(self, self.ledger_group if ledger_group is None else ledger_group)
        try:
            batch.prefetch(items)
            yield batch
        finally:
            batch.finish()

    def _handle(self, envelope: Envelope, event: EventData, batch: "Batch") -> None:
        if isinstance(event, MemberDetailsChanged):
            self.details_changed(event.member_id, event.name, event.email)
            batch.forget(event.member_id)
        elif isinstance(event, AccountDeleted):
            self.deactivated(event.member_id)
            batch.forget(event.member_id)
        elif isinstance(event, MemberErased):
            self.erased(event.member_id)
            batch.forget(event.member_id)
        notifications = notifications_for(event)
        if notifications:
            self._notify(envelope, event, notifications, batch)

    # --- sending -------------------------------------------------------------------
    def _notify(self, envelope: Envelope, event: EventData, notifications: list[Notification],
                batch: "Batch") -> None:
        event_id = str(envelope.event_id)
        done = batch.sent.setdefault(event_id, set())
        pending = [note for note in notifications if note.recipient_id not in done]
        # Everyone the emails address or mention (usually known from the batch's one lookup).
        people = batch.people({note.recipient_id for note in pending}
                              | {m for note in pending for m in note.about.values()})
        refused: list[str] = []
        for note in pending:
            recipient = self.support_team if note.recipient_id == SUPPORT_TEAM else people.get(note.recipient_id)
            if recipient is None or not recipient.email:
                log.warning("event %s (%s): no address known for member %s; email %s skipped",
                            event_id, envelope.type, note.recipient_id, note.template)
                continue
            if not recipient.reachable:
                log.info("event %s (%s): member %s is erased or deleted; email %s skipped",
                         event_id, envelope.type, note.recipient_id, note.template)
                continue
            message_id = message_id_for(event_id, note.recipient_id)
            subject, text, html = self.renderer.render(note.template, self._context(envelope, event, note,
                                                                                     recipient, people))
            message = build_message(sender=self.sender, to_name=recipient.name, to_email=recipient.email or "",
                                    subject=subject, text=text, html=html, message_id=message_id,
                                    date=self.clock.now(), attachments=self._attachments(envelope, note, people))
            if (event_id, note.recipient_id) in batch.in_doubt:
                log.warning("event %s (%s): a notifier stopped after claiming email %s for member %s and before "
                            "confirming it; sending it again (the file sender keeps the first copy; over SMTP "
                            "it may have been sent twice, both with Message-ID %s)",
                            event_id, envelope.type, note.template, note.recipient_id, message_id)
            try:
                # TransientEmailError propagates: the consumer loop retries the event with backoff,
                # and recipients already confirmed are not emailed again.
                self.email.send(message)
            except PermanentEmailError as exc:
                log.error("event %s (%s): the mail server refused %s for member %s: %s",
                          event_id, envelope.type, note.template, note.recipient_id, exc)
                refused.append(note.recipient_id)
                continue
            except TransientEmailError:
                raise  # not accepted: the claim is released and the event retried
            except BaseException:
                batch.outcome_unknown(event_id, note.recipient_id)  # the claim stays: it may have left
                raise
            # Confirmed right after the server accepted (with up to `ledger_group` - 1 others):
            # a crash in between is the only way an email can go out twice (docs/events.md).
            batch.sent_now(event_id, note.recipient_id, message_id, self.clock.now())
        if refused:
            raise PoisonMessage(f"mail server refused the email for {', '.join(refused)}")

    def _attachments(self, envelope: Envelope, note: Notification,
                     people: dict[str, Recipient]) -> tuple[Attachment, ...]:
        if note.invite is None:
            return note.attachments

        def party(member_id: str | None) -> tuple[str, str] | None:
            person = people.get(member_id) if member_id else None
            if person is None or not person.email or person.erased:
                return None
            return person.display_name, person.email

        attendees = [p for p in (party(m) for m in note.invite.attendee_ids) if p]
        return (*note.attachments, invite_attachment(note.invite, envelope.occurred_at, parseaddr(self.sender)[1],
                                                     party(note.invite.organiser_id), attendees))

    def _context(self, envelope: Envelope, event: EventData, note: Notification, recipient: Recipient,
                 people: dict[str, Recipient]) -> dict[str, Any]:
        context: dict[str, Any] = {
            "recipient": recipient, "event": event, "occurred_at": envelope.occurred_at, **note.context,
            "link": self.portal_url + portal_page(note.template, event), "portal_url": self.portal_url,
        }
        for role, member_id in note.about.items():
            context[f"{role}_name"] = shown_name(people.get(member_id))
        return context


class Batch:
    """What one handler call shares across its events: the ledger and directory rows loaded
    once, the claims it wrote before sending, and the accepted deliveries not yet confirmed.

    Every email is claimed in the ledger before it is handed to the sender (one statement for
    the whole batch) and confirmed after the sender accepted it.  `finish` confirms what is
    pending and releases the claims of emails known not to have left (skipped, refused, not
    reached); a claim whose send neither returned nor failed in a known way stays, so the
    redelivered event finds it in doubt (`in_doubt`)."""

    def __init__(self, service: NotifierService, ledger_group: int) -> None:
        self.service = service
        self.ledger_group = ledger_group
        self.sent: dict[str, set[str]] = {}
        self.in_doubt: set[tuple[str, str]] = set()
        self._claimed: set[tuple[str, str]] = set()
        self._unknown: set[tuple[str, str]] = set()
        self._people: dict[str, Recipient] = {}
        self._looked_up: set[str] = set()
        self._unrecorded: list[dict[str, object]] = []
        self._uow: NotifierUnitOfWork | None = None  # see `_step`

    def handle(self, envelope: Envelope, event: EventData) -> None:
        self.service._handle(envelope, event, self)

    def prefetch(self, items: list[tuple[Envelope, EventData]]) -> None:
        wanted = [(str(envelope.event_id), notifications_for(event)) for envelope, event in items]
        wanted = [(event_id, notes) for event_id, notes in wanted if notes]
        if not wanted:
            return
        now = self.service.clock.now()
        with self._step() as uow:
            ledger = uow.deliveries.ledger_many(event_id for event_id, _ in wanted)
            claims: dict[tuple[str, str], dict[str, object]] = {}
            for event_id, notes in wanted:
                for note in notes:
                    known = ledger[event_id].get(note.recipient_id)
                    if known is None:
                        claims[(event_id, note.recipient_id)] = {
                            "event_id": event_id, "recipient_id": note.recipient_id,
                            "message_id": message_id_for(event_id, note.recipient_id), "claimed_at": now}
                    elif not known:
                        self.in_doubt.add((event_id, note.recipient_id))
            uow.deliveries.claim_many(list(claims.values()))
        for event_id, recipients in ledger.items():
            self.sent[event_id] = {recipient for recipient, confirmed in recipients.items() if confirmed}
        self._claimed |= set(claims) | self.in_doubt
        self.people({note.recipient_id for _, notes in wanted for note in notes}
                    | {m for _, notes in wanted for note in notes for m in note.about.values()})

    def people(self, member_ids: set[str]) -> dict[str, Recipient]:
        missing = member_ids - self._looked_up
        if missing:
            with self._step() as uow:
                self._people.update(uow.directory.get_many(missing))
            self._looked_up |= missing
        return {m: self._people[m] for m in member_ids if m in self._people}

    def forget(self, member_id: str) -> None:
        """The directory row changed: look it up again when next needed."""
        self._people.pop(member_id, None)
        self._looked_up.discard(member_id)

    def sent_now(self, event_id: str, recipient_id: str, message_id: str, at: datetime) -> None:
        self.sent.setdefault(event_id, set()).add(recipient_id)
        self._unrecorded.append({"event_id": event_id, "recipient_id": recipient_id, "message_id": message_id,
                                 "claimed_at": at, "sent_at": at})
        if len(self._unrecorded) >= self.ledger_group:
            self.flush()

    def outcome_unknown(self, event_id: str, recipient_id: str) -> None:
        self._unknown.add((event_id, recipient_id))

    def flush(self) -> None:
        # Rows stay pending until written, so a failed write is retried by the final flush.
        if not self._unrecorded:
            return
        with self._step() as uow:
            uow.deliveries.confirm_many(self._unrecorded)
        self._unrecorded = []

    def finish(self) -> None:
        """Confirm what is pending, release the claims of emails that did not leave, let go of the
        connection: whatever happened, before anything is retried."""
        try:
            self.flush()
            confirmed = {(event_id, r) for event_id, recipients in self.sent.items() for r in recipients}
            unsent = self._claimed - confirmed - self._unknown
            if unsent:
                with self._step() as uow:
                    uow.deliveries.release(unsent)
        finally:
            self.close()

    @contextmanager
    def _step(self) -> Iterator[NotifierUnitOfWork]:
        """One committed step of the batch, in the batch's one unit of work: made on first use on
        a connection it keeps for its reads and ledger writes."""
        if self._uow is None:
            self._uow = NotifierUnitOfWork.kept(self.service.database, self.service.clock).__enter__()
        try:
            yield self._uow
            self._uow.commit()
        except Exception:
            self.close()  # never reuse a connection that just failed
            raise

    def close(self) -> None:
        uow, self._uow = self._uow, None
        if uow is not None:
            try:
                uow.__exit__(None, None, None)
            finally:
                uow.close()


class NotificationFeed:
    """The feed use cases: project an event into the feeds of the members the rules address,
    page a member's feed, mark entries read, and close a deleted or erased member's feed."""

    def __init__(self, database: Database, clock: Clock, renderer: TemplateRenderer | None = None) -> None:
        self.database = database
        self.clock = clock
        self.renderer = renderer or TemplateRenderer()

    def uow(self) -> NotifierUnitOfWork:
        return NotifierUnitOfWork(self.database, self.clock)

    # --- the consumer's side ----------------------------------------------------------
    def project(self, items: list[tuple[Envelope, EventData]]) -> int:
        """Add what these events tell whom, in one transaction (once: a redelivered event adds
        nothing); a deleted or erased member's feed is closed, and emptied when erased.  Returns
        the entries added."""
        added = 0
        erased = False
        with self.uow() as uow:
            entries: list[FeedEntry] = []
            for envelope, event in items:
                if isinstance(event, (AccountDeleted, MemberErased)):
                    # Entries gathered so far are written first, so an erasure also removes them.
                    added += uow.feed.add_many(entries)
                    entries = []
                    if isinstance(event, MemberErased) and not erased:
                        uow.zero_freed_space()
                        erased = True
                    uow.feed.close(event.member_id, self.clock.now(), forget=isinstance(event, MemberErased))
                entries.extend(entries_for(str(envelope.event_id), utc(envelope.occurred_at), event))
            added += uow.feed.add_many(entries)
            uow.commit()
        if erased:
            self.database.expunge_erased()
        return added

    # --- the member's side ------------------------------------------------------------
    def page(self, member_id: str, *, unread_only: bool, after: tuple[datetime, str] | None,
             limit: int) -> dict[str, Any]:
        """Newest first: `items`, `next_cursor` (an (occurred_at, id) position, or None at the
        end) and `unread_count`."""
        with self.uow() as uow:
            found, unread = uow.feed.page(member_id, unread_only=unread_only, after=after, limit=limit + 1)
            more = len(found) > limit
            found = found[:limit]
            people = uow.directory.get_many({e.counterpart_id for e in found if e.counterpart_id})
        items = [self._view(entry, people) for entry in found]
        next_cursor = (found[-1].occurred_at, found[-1].event_id) if more else None
        return {"items": items, "next_cursor": next_cursor, "unread_count": unread}

    def mark_read(self, member_id: str, ids: list[str]) -> dict[str, int]:
        """Mark these entries read (all must be the member's); already read ones stay as they were."""
        with self.uow() as uow:
            unknown = uow.feed.mark_read(member_id, ids, self.clock.now())
            if unknown:
                raise NoSuchNotification(unknown[0])
            uow.commit()
            return {"unread_count": uow.feed.unread_count(member_id)}

    def mark_read_through(self, member_id: str, notification_id: str) -> dict[str, int]:
        """Mark this entry and every older one read: what a portal has shown, and nothing newer."""
        with self.uow() as uow:
            through = uow.feed.get(member_id, notification_id)
            if through is None:
                raise NoSuchNotification(notification_id)
            uow.feed.mark_read_through(member_id, through, self.clock.now())
            uow.commit()
            return {"unread_count": uow.feed.unread_count(member_id)}

    def _view(self, entry: FeedEntry, people: dict[str, Recipient]) -> dict[str, Any]:
        counterpart = people.get(entry.counterpart_id) if entry.counterpart_id else None
        name = shown_name(counterpart)
        context = {**entry.details.get("context", {}), "counterpart_name": name}
        return {
            "id": entry.event_id,
            "kind": entry.kind,
            "title": self.renderer.subject(entry.kind, context),
            "occurred_at": entry.occurred_at.isoformat(),
            "read": entry.read_at is not None,
            "read_at": entry.read_at.isoformat() if entry.read_at else None,
            "relationship_id": entry.relationship_id,
            "counterpart": {"member_id": entry.counterpart_id, "name": name} if entry.counterpart_id else None,
            # The portal page the email links to, for a portal that links the same way.
            "portal_path": portal_page(entry.kind, entry),
            **entry.details.get("references", {}),
        }
