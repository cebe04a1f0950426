"""Notifier use cases: keep the recipients directory, decide who must hear about an
event, and send each (event, recipient) email once."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from datetime import datetime
from email.utils import parseaddr
from typing import Any, Iterator

from sqlalchemy import Connection

from connect.clock import Clock
from connect.db import Database
from connect.email import EmailSender, PermanentEmailError, TransientEmailError
from connect.events import PoisonMessage, Record, UnknownTypes, decode_event
from schemas.events import AccountDeleted, Envelope, EventData, MemberDetailsChanged, MemberErased
from services.notifier.adapters.calendar import invite_attachment
from services.notifier.adapters.rendering import TemplateRenderer, build_message
from services.notifier.adapters.repository import SqlDeliveries, SqlDirectory, kept_connection
from services.notifier.domain.recipients import Recipient
from services.notifier.domain.rules import Attachment, Notification, message_id_for, notifications_for, portal_page

log = logging.getLogger(__name__)


def decode(raw: bytes) -> tuple[Envelope, EventData]:
    """The envelope and its typed payload.  Every event on the notifier's topics may call for an
    email, so one it cannot read is dead-lettered (PoisonMessage), never skipped."""
    decoded = decode_event(raw, UnknownTypes.DEAD_LETTER)
    assert decoded is not None and decoded.event is not None  # DEAD_LETTER raises instead of skipping
    return decoded.envelope, decoded.event


class NotifierService:
    def __init__(self, database: Database, clock: Clock, email: EmailSender,
                 sender: str = "Connect <connect@example.org>", renderer: TemplateRenderer | None = None,
                 ledger_group: int = 1, portal_url: str = "http://127.0.0.1:8000") -> None:
        self.database = database
        # Confirmations per ledger write on the batch path: >1 saves database round trips but widens
        # the duplicate window after a crash to that many accepted, unconfirmed emails per thread.
        self.ledger_group = ledger_group
        self.clock = clock
        self.email = email
        self.sender = sender
        self.portal_url = portal_url.rstrip("/")
        self.renderer = renderer or TemplateRenderer()
        self.directory = SqlDirectory(database)
        self.deliveries = SqlDeliveries(database)

    # --- the consumer's handlers ------------------------------------------------------
    def handle_record(self, record: Record) -> None:
        envelope, event = decode(record.value)
        self.handle(envelope, event)

    def handle(self, envelope: Envelope, event: EventData) -> None:
        # One record: each accepted email is confirmed at once (ledger group of one).
        batch = _Batch(self, ledger_group=1)
        try:
            batch.prefetch([(envelope, event)])
            self._handle(envelope, event, batch)
        finally:
            batch.finish()

    def handle_records(self, records: list[Record]) -> list[Record]:
        """The batch fast path (ConsumerLoop's `batch_handler`): one ledger query and one
        directory query for the whole batch, ledger rows inserted in groups of `ledger_group`.  Returns
        the records left for the one-record path: a failed one and every later one of its key."""
        batch = _Batch(self, ledger_group=self.ledger_group)
        decoded: list[tuple[Record, tuple[Envelope, EventData] | None]] = []
        for record in records:
            try:
                decoded.append((record, decode(record.value)))
            except PoisonMessage:
                decoded.append((record, None))  # the one-record path dead-letters it
        undone: list[Record] = []
        blocked: set[tuple[str, int, str | None]] = set()
        try:
            batch.prefetch([item for _, item in decoded if item is not None])
            for record, item in decoded:
                lane = (record.topic, record.partition, record.key)
                if item is None or lane in blocked:
                    undone.append(record)
                    blocked.add(lane)
                    continue
                try:
                    self._handle(item[0], item[1], batch)
                except Exception as exc:
                    log.info("event %s: left for the one-by-one path: %r", item[0].event_id, exc)
                    undone.append(record)
                    blocked.add(lane)
        finally:
            # Whatever happened, what the server accepted is confirmed before anything is retried.
            batch.finish()
        return undone

    def _handle(self, envelope: Envelope, event: EventData, batch: "_Batch") -> None:
        now = self.clock.now()
        if isinstance(event, MemberDetailsChanged):
            self.directory.details_changed(event.member_id, event.name, event.email, now)
            batch.forget(event.member_id)
        elif isinstance(event, AccountDeleted):
            self.directory.deactivated(event.member_id, now)
            batch.forget(event.member_id)
        elif isinstance(event, MemberErased):
            self.directory.erased(event.member_id, now)
            batch.forget(event.member_id)
        notifications = notifications_for(event)
        if notifications:
            self._notify(envelope, event, notifications, batch)

    # --- sending -------------------------------------------------------------------
    def _notify(self, envelope: Envelope, event: EventData, notifications: list[Notification],
                batch: "_Batch") -> None:
        event_id = str(envelope.event_id)
        done = batch.sent.setdefault(event_id, set())
        pending = [note for note in notifications if note.recipient_id not in done]
        # Everyone the emails address or mention (usually known from the batch's one lookup).
        people = batch.people({note.recipient_id for note in pending}
                              | {m for note in pending for m in note.about.values()})
        refused: list[str] = []
        for note in pending:
            recipient = people.get(note.recipient_id)
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
                                    date=self.clock.now(), attachments=self._attachments(envelope, note))
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

    def _attachments(self, envelope: Envelope, note: Notification) -> tuple[Attachment, ...]:
        if note.invite is None:
            return note.attachments
        organiser = parseaddr(self.sender)[1]
        return (*note.attachments, invite_attachment(note.invite, envelope.occurred_at, organiser))

    def _context(self, envelope: Envelope, event: EventData, note: Notification, recipient: Recipient,
                 people: dict[str, Recipient]) -> dict[str, Any]:
        context: dict[str, Any] = {
            "recipient": recipient, "event": event, "occurred_at": envelope.occurred_at, **note.context,
            "link": self.portal_url + portal_page(note.template, event),
        }
        for role, member_id in note.about.items():
            member = people.get(member_id)
            context[f"{role}_name"] = member.display_name if member and not member.erased else "a Connect member"
        return context


class _Batch:
    """What one handler call shares across its records: the ledger and directory rows loaded
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
        self._connection: Connection | None = None  # see `_kept`

    def prefetch(self, items: list[tuple[Envelope, EventData]]) -> None:
        wanted = [(str(envelope.event_id), notifications_for(event)) for envelope, event in items]
        wanted = [(event_id, notes) for event_id, notes in wanted if notes]
        if not wanted:
            return
        now = self.service.clock.now()
        with self._kept() as conn:
            ledger = self.service.deliveries.ledger_many((event_id for event_id, _ in wanted), conn)
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
            self.service.deliveries.claim_many(list(claims.values()), conn)
        for event_id, recipients in ledger.items():
            self.sent[event_id] = {recipient for recipient, confirmed in recipients.items() if confirmed}
        self._claimed |= set(claims) | self.in_doubt
        self.people({note.recipient_id for _, notes in wanted for note in notes}
                    | {m for _, notes in wanted for note in notes for m in note.about.values()})

    def people(self, member_ids: set[str]) -> dict[str, Recipient]:
        missing = member_ids - self._looked_up
        if missing:
            with self._kept() as conn:
                self._people.update(self.service.directory.get_many(missing, conn))
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
        with self._kept() as conn:
            self.service.deliveries.confirm_many(self._unrecorded, conn)
        self._unrecorded = []

    def finish(self) -> None:
        """Confirm what is pending, release the claims of emails that did not leave, let go of the
        connection: whatever happened, before anything is retried."""
        try:
            self.flush()
            confirmed = {(event_id, r) for event_id, recipients in self.sent.items() for r in recipients}
            unsent = self._claimed - confirmed - self._unknown
            if unsent:
                with self._kept() as conn:
                    self.service.deliveries.release(unsent, conn)
        finally:
            self.close()

    @contextmanager
    def _kept(self) -> Iterator[Connection]:
        """The batch's one connection for its reads and ledger writes, made on first use."""
        if self._connection is None:
            self._connection = kept_connection(self.service.database)
        try:
            yield self._connection
        except Exception:
            self.close()  # never reuse a connection that just failed
            raise

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
