"""Who must hear about an event, and with which template.

A rule is a plain function from one event type to the notifications it calls
for; adding an email is adding a rule here, listing it in `RULES` (the end of
the module) and a template pair under `templates/`.  Nothing here knows about addresses, SMTP or the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schemas.events import (EventData, MeetingCancelled, MeetingChanged, MeetingScheduled, MessagePosted,
                            PartnerNudged, ProposalAccepted, ProposalEdited, ProposalExpired, ProposalRejected,
                            ProposalReminderDue, ProposalReopened, ProposalSent, ProposalWithdrawn,
                            RelationshipCompleted, RelationshipEndingSoon, RelationshipWithdrawn,
                            SupportMessageSentToPartner, SupportRequestCreated,
                            SupportRequestResolved, _MeetingEvent, _RelationshipEvent)

MAX_ALTERNATIVES = 3


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # e.g. "text/calendar"
    content: bytes


@dataclass(frozen=True)
class Invite:
    """A calendar entry to attach as .ics; the same `uid` with a higher `sequence` replaces it."""

    uid: str
    sequence: int
    starts_at: datetime
    ends_at: datetime
    summary: str
    location: str
    description: str
    cancelled: bool = False
    #: The member who arranged the meeting (ORGANIZER) and the other party (ATTENDEE).
    organiser_id: str | None = None
    attendee_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Notification:
    """One email to one member: `template` names templates/<template>.{txt,html}.j2."""

    recipient_id: str
    template: str
    # Members (besides the recipient) whose directory entries the template shows, by role name.
    about: dict[str, str] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()
    invite: Invite | None = None


#: The portal page each email links to (under CONNECT_PORTAL_URL), by template.
PORTAL_PAGES = {
    "proposal_received": "/relationships/{relationship_id}", "proposal_reminder": "/relationships/{relationship_id}",
    "proposal_expired": "/search", "proposal_accepted": "/relationships/{relationship_id}/dashboard",
    "proposal_rejected": "/relationships/{relationship_id}", "proposal_withdrawn": "/relationships/{relationship_id}",
    "proposal_reopened": "/relationships/{relationship_id}", "proposal_edited": "/relationships/{relationship_id}",
    "relationship_withdrawn": "/relationships/{relationship_id}",
    "relationship_completed": "/relationships/{relationship_id}/dashboard",
    "relationship_ending_soon": "/relationships/{relationship_id}/dashboard",
    "meeting_scheduled": "/relationships/{relationship_id}/meetings",
    "meeting_changed": "/relationships/{relationship_id}/meetings",
    "meeting_cancelled": "/relationships/{relationship_id}/meetings",
    "message_posted": "/relationships/{relationship_id}/messages",
    "partner_nudged": "/relationships/{relationship_id}/messages",
    "support_request_received": "/support", "support_request_resolved": "/support",
    "support_request_new": "/support/requests/{request_id}",
    "support_message_to_partner": "/relationships/{relationship_id}",
}


def portal_page(template: str, event: EventData) -> str:
    return PORTAL_PAGES.get(template, "/").format(relationship_id=getattr(event, "relationship_id", ""),
                                                  request_id=getattr(event, "request_id", ""))


#: Changed fields as emails name them (`{{ event.changed_fields | field_label }}`), never the ids.
FIELD_LABELS = {
    # a proposal's
    "message": "message", "areas": "areas", "goals": "goals", "interaction_modes": "ways of meeting",
    "duration_months": "duration",
    # a meeting's
    "starts_at": "time", "duration_minutes": "length", "mode": "how you meet", "location_or_link": "place or link",
    "agenda": "agenda", "time_zone": "time zone",
}


def field_label(name: str) -> str:
    return FIELD_LABELS.get(name, name.replace("_", " "))


Rule = Callable[[Any], list[Notification]]


def notifications_for(event: EventData) -> list[Notification]:
    """Every email the event calls for; none for events that concern nobody by email."""
    decide = RULES.get(event.TYPE)
    return decide(event) if decide else []


def other_parties(event: _RelationshipEvent, default_actor: str | None = None) -> list[str]:
    """The parties who did not act.  Without an actor (the system acted) both parties hear,
    unless the event type has a usual actor (`default_actor`: "mentor" or "mentee")."""
    actor = event.actor_id
    if actor is None and default_actor is not None:
        actor = {"mentor": event.mentor_id, "mentee": event.mentee_id}[default_actor]
    return [member for member in (event.mentor_id, event.mentee_id) if member != actor]


def _relationship_note(event: _RelationshipEvent, template: str, recipient_id: str,
                       **context: Any) -> Notification:
    counterpart = event.mentee_id if recipient_id == event.mentor_id else event.mentor_id
    role = "mentor" if recipient_id == event.mentor_id else "mentee"
    actor_about = {"actor": event.actor_id} if event.actor_id else {}
    return Notification(recipient_id, template, about={"counterpart": counterpart, **actor_about},
                        context={"recipient_role": role, **context})


def proposal_received(event: ProposalSent) -> list[Notification]:
    return [_relationship_note(event, "proposal_received", event.mentor_id)]


def proposal_reminder(event: ProposalReminderDue) -> list[Notification]:
    return [_relationship_note(event, "proposal_reminder", event.mentor_id)]


def proposal_expired(event: ProposalExpired) -> list[Notification]:
    return [_relationship_note(event, "proposal_expired", event.mentee_id,
                               alternatives=[a.model_dump() for a in event.alternatives[:MAX_ALTERNATIVES]])]


def proposal_accepted(event: ProposalAccepted) -> list[Notification]:
    return [_relationship_note(event, "proposal_accepted", m) for m in other_parties(event, "mentor")]


def proposal_rejected(event: ProposalRejected) -> list[Notification]:
    return [_relationship_note(event, "proposal_rejected", m) for m in other_parties(event, "mentor")]


def proposal_withdrawn(event: ProposalWithdrawn) -> list[Notification]:
    # The subject (and the feed's title) says so when the member left Connect: it sees no event.
    return [_relationship_note(event, "proposal_withdrawn", m, account_deleted=event.account_deleted)
            for m in other_parties(event, "mentee")]


def proposal_reopened(event: ProposalReopened) -> list[Notification]:
    return [_relationship_note(event, "proposal_reopened", m) for m in other_parties(event)]


def proposal_edited(event: ProposalEdited) -> list[Notification]:
    return [_relationship_note(event, "proposal_edited", m) for m in other_parties(event, "mentee")]


def relationship_withdrawn(event: RelationshipWithdrawn) -> list[Notification]:
    return [_relationship_note(event, "relationship_withdrawn", m, account_deleted=event.account_deleted)
            for m in other_parties(event)]


def relationship_completed(event: RelationshipCompleted) -> list[Notification]:
    # Completed by the timers (no actor): both parties hear, and both may stay in touch.
    return [_relationship_note(event, "relationship_completed", m) for m in other_parties(event)]


def relationship_ending_soon(event: RelationshipEndingSoon) -> list[Notification]:
    return [_relationship_note(event, "relationship_ending_soon", m,
                               planned_end_date=event.planned_end.strftime("%A %d %B %Y"))
            for m in (event.mentor_id, event.mentee_id)]


def message_id_for(event_id: str, recipient_id: str, domain: str = "connect.notifier") -> str:
    """The same event and recipient always give the same Message-ID, so any duplicate that
    slips through is recognisable (and collapsible) downstream."""
    import uuid

    return f"<{uuid.uuid5(uuid.NAMESPACE_URL, f'connect:{event_id}:{recipient_id}').hex}@{domain}>"


# --- relationship workspace ------------------------------------------------------------


def _meeting(event: _MeetingEvent, template: str, cancelled: bool = False) -> list[Notification]:
    try:
        zone = ZoneInfo(event.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    ends_at = event.starts_at + timedelta(minutes=event.duration_minutes)
    # Events written before `organiser_id` existed: the one who acted is the best guess.
    organiser = event.organiser_id or event.actor_id
    parties = (event.mentor_id, event.mentee_id)
    invite = Invite(uid=f"meeting-{event.meeting_id}@connect", sequence=event.sequence, starts_at=event.starts_at,
                    ends_at=ends_at, summary="Connect mentoring meeting", location=event.location_or_link,
                    description=event.agenda, cancelled=cancelled, organiser_id=organiser,
                    attendee_ids=tuple(m for m in parties if m != organiser))
    context = {"starts_at_local": event.starts_at.astimezone(zone).strftime("%A %d %B %Y, %H:%M"),
               "time_zone": zone.key, "starts_at_utc": event.starts_at.strftime("%Y-%m-%d %H:%M UTC")}
    # Both parties' calendars hold the entry (the organiser's too), so both get every
    # invitation, update and cancellation, the one who made the change included.
    return [replace(_relationship_note(event, template, m, by_me=m == event.actor_id, **context), invite=invite)
            for m in parties]


def meeting_scheduled(event: MeetingScheduled) -> list[Notification]:
    return _meeting(event, "meeting_scheduled")


def meeting_changed(event: MeetingChanged) -> list[Notification]:
    return _meeting(event, "meeting_changed")


def meeting_cancelled(event: MeetingCancelled) -> list[Notification]:
    return _meeting(event, "meeting_cancelled", cancelled=True)


def message_posted(event: MessagePosted) -> list[Notification]:
    # `notify` is False while an earlier "new message" email is still unread: one email per burst.
    if not event.notify:
        return []
    return [_relationship_note(event, "message_posted", event.recipient_id)]


def partner_nudged(event: PartnerNudged) -> list[Notification]:
    return [_relationship_note(event, "partner_nudged", event.recipient_id)]


# --- support requests --------------------------------------------------------------------

SUPPORT_KIND_LABELS = {"erasure": "permanently deleting your personal data",
                       "contact_partner": "contacting your mentoring partner for you", "other": "your question"}


#: The recipient id that stands for the customer service team's mailbox (`support_address`).
SUPPORT_TEAM = "connect-support-team"

#: What a new request is about, as the team's queue names it.
SUPPORT_KIND_NAMES = {"erasure": "Erasure of personal data", "contact_partner": "Contact the mentoring partner",
                      "other": "Other question"}


def support_request_received(event: SupportRequestCreated) -> list[Notification]:
    kind = {"kind": event.kind, "kind_label": SUPPORT_KIND_LABELS.get(event.kind, event.kind)}
    return [Notification(event.member_id, "support_request_received", context=kind),
            Notification(SUPPORT_TEAM, "support_request_new", about={"requester": event.member_id},
                         context={**kind, "kind_name": SUPPORT_KIND_NAMES.get(event.kind, event.kind)})]


def support_request_resolved(event: SupportRequestResolved) -> list[Notification]:
    return [Notification(event.member_id, "support_request_resolved",
                         context={"kind": event.kind, "outcome": event.outcome, "note": event.note or "",
                                  "kind_label": SUPPORT_KIND_LABELS.get(event.kind, event.kind)})]


def support_message_to_partner(event: SupportMessageSentToPartner) -> list[Notification]:
    requester = event.mentee_id if event.recipient_id == event.mentor_id else event.mentor_id
    return [Notification(event.recipient_id, "support_message_to_partner", about={"counterpart": requester},
                         context={"recipient_role": "mentor" if event.recipient_id == event.mentor_id else "mentee"})]


# --- the rules, by the event each answers -------------------------------------------------
# A table rather than a decorator: the routing reads in one place, and the mutation run
# (`make mutation`, docs/testing.md) mutates plain functions only.

RULES: dict[str, Rule] = {event_type.TYPE: decide for event_type, decide in (
    (ProposalSent, proposal_received),
    (ProposalReminderDue, proposal_reminder),
    (ProposalExpired, proposal_expired),
    (ProposalAccepted, proposal_accepted),
    (ProposalRejected, proposal_rejected),
    (ProposalWithdrawn, proposal_withdrawn),
    (ProposalReopened, proposal_reopened),
    (ProposalEdited, proposal_edited),
    (RelationshipWithdrawn, relationship_withdrawn),
    (RelationshipCompleted, relationship_completed),
    (MeetingScheduled, meeting_scheduled),
    (MeetingChanged, meeting_changed),
    (MeetingCancelled, meeting_cancelled),
    (MessagePosted, message_posted),
    (PartnerNudged, partner_nudged),
    (SupportRequestCreated, support_request_received),
    (SupportRequestResolved, support_request_resolved),
    (SupportMessageSentToPartner, support_message_to_partner),
    (RelationshipEndingSoon, relationship_ending_soon),
)}
