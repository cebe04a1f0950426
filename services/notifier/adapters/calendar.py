"""iCalendar (.ics) rendering of a meeting invite (RFC 5545 via `icalendar`)."""

from __future__ import annotations

from datetime import datetime

from icalendar import Calendar, Event

from services.notifier.domain.rules import Attachment, Invite


def invite_attachment(invite: Invite, stamp: datetime, organiser: str) -> Attachment:
    calendar = Calendar()
    calendar.add("prodid", "-//Connect//Mentoring//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if invite.cancelled else "REQUEST")
    entry = Event()
    entry.add("uid", invite.uid)
    entry.add("sequence", invite.sequence)
    entry.add("dtstamp", stamp)
    entry.add("dtstart", invite.starts_at)
    entry.add("dtend", invite.ends_at)
    entry.add("summary", invite.summary)
    entry.add("organizer", f"mailto:{organiser}")
    entry.add("status", "CANCELLED" if invite.cancelled else "CONFIRMED")
    if invite.location:
        entry.add("location", invite.location)
    if invite.description:
        entry.add("description", invite.description)
    calendar.add_component(entry)
    method = "CANCEL" if invite.cancelled else "REQUEST"
    return Attachment("invite.ics", f"text/calendar; method={method}", calendar.to_ical())
