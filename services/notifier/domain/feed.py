"""The notification feed: what the rules tell each member, kept for the portal to list.

An entry is made from the same `Notification` the email is rendered from, so the feed tells the
same people the same thing (its title is the email's subject, from the same template).  It keeps
references, not names: names are looked up when the feed is read (an erased member's name goes
with their directory row), and only the title's scalar values (a meeting's local time, a support
request's outcome) are stored with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connect.errors import NotFound
from schemas.events import EventData
from services.notifier.domain.recipients import Recipient
from services.notifier.domain.rules import Notification, notifications_for

#: What a feed entry may point at besides its relationship (the portal links to it): the event's
#: field and the name the feed gives it.
REFERENCES = {"meeting_id": "meeting_id", "message_id": "message_id", "tool_id": "tool_id",
              "request_id": "support_request_id"}
_SCALARS = (str, int, float, bool)


class NoSuchNotification(NotFound):
    code = "notification-not-found"

    def __init__(self, notification_id: str) -> None:
        super().__init__(f"No notification {notification_id} in your feed.", notification_id=notification_id)


@dataclass(frozen=True)
class FeedEntry:
    recipient_id: str
    event_id: str
    kind: str
    occurred_at: datetime
    relationship_id: str | None = None
    counterpart_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    read_at: datetime | None = None


def entry_for(event_id: str, occurred_at: datetime, event: EventData, note: Notification) -> FeedEntry:
    references = {shown: getattr(event, name) for name, shown in REFERENCES.items() if getattr(event, name, None)}
    context = {name: value for name, value in note.context.items() if isinstance(value, _SCALARS)}
    return FeedEntry(recipient_id=note.recipient_id, event_id=event_id, kind=note.template,
                     occurred_at=occurred_at, relationship_id=getattr(event, "relationship_id", None),
                     counterpart_id=note.about.get("counterpart"),
                     details={"references": references, "context": context})


def entries_for(event_id: str, occurred_at: datetime, event: EventData) -> list[FeedEntry]:
    """One entry per notification the event calls for: the notifier's rules decide who, here as
    for the emails."""
    return [entry_for(event_id, occurred_at, event, note) for note in notifications_for(event)]


def shown_name(member: Recipient | None) -> str:
    """A member's name as a notification shows it: a stand-in once erased or unknown."""
    return member.display_name if member is not None and not member.erased else "a Connect member"
