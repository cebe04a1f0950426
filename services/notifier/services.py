"""Notifier use cases: keep the recipients directory, decide who must hear about an
event, and send each (event, recipient) email once."""

from __future__ import annotations

import logging
from email.utils import parseaddr
from typing import Any

from pydantic import ValidationError

from connect.clock import Clock
from connect.db import Database
from connect.email import EmailSender, PermanentEmailError
from connect.events import PoisonMessage, Record
from schemas.events import (AccountDeleted, Envelope, EventData, MemberDetailsChanged, MemberErased,
                            UnknownEvent)
from services.notifier.adapters.calendar import invite_attachment
from services.notifier.adapters.rendering import TemplateRenderer, build_message
from services.notifier.adapters.repository import SqlDeliveries, SqlDirectory
from services.notifier.domain.recipients import Recipient
from services.notifier.domain.rules import Attachment, Notification, message_id_for, notifications_for

log = logging.getLogger(__name__)


def decode(raw: bytes) -> tuple[Envelope, EventData]:
    """The envelope and its typed payload; PoisonMessage for anything we can never read."""
    try:
        envelope = Envelope.from_bytes(raw)
        return envelope, envelope.payload()
    except UnknownEvent as exc:
        raise PoisonMessage(str(exc)) from exc
    except (ValidationError, ValueError, UnicodeDecodeError) as exc:
        raise PoisonMessage(f"undecodable event: {exc}") from exc


class NotifierService:
    def __init__(self, database: Database, clock: Clock, email: EmailSender,
                 sender: str = "Connect <connect@example.org>", renderer: TemplateRenderer | None = None) -> None:
        self.database = database
        self.clock = clock
        self.email = email
        self.sender = sender
        self.renderer = renderer or TemplateRenderer()
        self.directory = SqlDirectory(database)
        self.deliveries = SqlDeliveries(database)

    # --- the consumer's handler ------------------------------------------------------
    def handle_record(self, record: Record) -> None:
        envelope, event = decode(record.value)
        self.handle(envelope, event)

    def handle(self, envelope: Envelope, event: EventData) -> None:
        now = self.clock.now()
        if isinstance(event, MemberDetailsChanged):
            self.directory.details_changed(event.member_id, event.name, event.email, now)
        elif isinstance(event, AccountDeleted):
            self.directory.deactivated(event.member_id, now)
        elif isinstance(event, MemberErased):
            self.directory.erased(event.member_id, now)
        notifications = notifications_for(event)
        if notifications:
            self._notify(envelope, event, notifications)

    # --- sending -------------------------------------------------------------------
    def _notify(self, envelope: Envelope, event: EventData, notifications: list[Notification]) -> None:
        event_id = str(envelope.event_id)
        done = self.deliveries.already_sent(event_id)
        pending = [note for note in notifications if note.recipient_id not in done]
        # Everyone the emails address or mention, in one round trip.
        people = self.directory.get_many({note.recipient_id for note in pending}
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
            try:
                # TransientEmailError propagates: the consumer loop retries the event with backoff,
                # and recipients already recorded below are not emailed again.
                self.email.send(message)
            except PermanentEmailError as exc:
                log.error("event %s (%s): the mail server refused %s for member %s: %s",
                          event_id, envelope.type, note.template, note.recipient_id, exc)
                refused.append(note.recipient_id)
                continue
            # Recorded the moment the server accepted: a crash between the two is the only
            # way one email can go out twice.
            self.deliveries.record_sent(event_id, note.recipient_id, message_id, self.clock.now())
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
        }
        for role, member_id in note.about.items():
            member = people.get(member_id)
            context[f"{role}_name"] = member.display_name if member and not member.erased else "a Connect member"
        return context
