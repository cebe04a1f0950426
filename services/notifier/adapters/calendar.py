"""iCalendar (.ics) rendering of a meeting invite (RFC 5545 via `icalendar`)."""

from __future__ import annotations

from datetime import datetime

from icalendar import Calendar, Event, vCalAddress

from services.notifier.domain.rules import Attachment, Invite


def invite_attachment(invite: Invite, stamp: datetime, connect_address: str,
                      organiser: tuple[str, str] | None = None,
                      attendees: list[tuple[str, str]] | None = None) -> Attachment:
    """The entry as every party's calendar gets it.  ORGANIZER is the member who arranged the
    meeting (name, address), sent by Connect on their behalf (SENT-BY); ATTENDEE is the other
    party.  Without a known organiser address, Connect's own address organises."""
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
    if organiser is not None:
        chair = vCalAddress(f"mailto:{organiser[1]}")
        chair.params["cn"] = organiser[0]
        chair.params["sent-by"] = f"mailto:{connect_address}"
    else:
        chair = vCalAddress(f"mailto:{connect_address}")
        chair.params["cn"] = "Connect"
    entry.add("organizer", chair)
    for name, address in attendees or ():
        attendee = vCalAddress(f"mailto:{address}")
        attendee.params.update({"cn": name, "role": "REQ-PARTICIPANT", "partstat": "NEEDS-ACTION",
                                "rsvp": "FALSE"})
        entry.add("attendee", attendee, encode=0)
    entry.add("status", "CANCELLED" if invite.cancelled else "CONFIRMED")
    if invite.location:
        entry.add("location", invite.location)
    if invite.description:
        entry.add("description", invite.description)
    calendar.add_component(entry)
    method = "CANCEL" if invite.cancelled else "REQUEST"
    return Attachment("invite.ics", f"text/calendar; method={method}", calendar.to_ical())
