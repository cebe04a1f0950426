"""Who must hear about an event, and with which template.

A rule is a plain function from one event type to the notifications it calls
for; adding an email is adding a rule here and a template pair under
`templates/`.  Nothing here knows about addresses, SMTP or the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from schemas.events import (EventData, ProposalAccepted, ProposalEdited, ProposalExpired, ProposalRejected,
                            ProposalReminderDue, ProposalReopened, ProposalSent, ProposalWithdrawn,
                            RelationshipCompleted, RelationshipWithdrawn, _RelationshipEvent)

MAX_ALTERNATIVES = 3


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # e.g. "text/calendar"
    content: bytes


@dataclass(frozen=True)
class Notification:
    """One email to one member: `template` names templates/<template>.{txt,html}.j2."""

    recipient_id: str
    template: str
    # Members (besides the recipient) whose directory entries the template shows, by role name.
    about: dict[str, str] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()


E = TypeVar("E", bound=EventData)
Rule = Callable[[Any], list[Notification]]
RULES: dict[str, Rule] = {}


def rule(*event_types: type[E]) -> Callable[[Callable[[E], list[Notification]]], Callable[[E], list[Notification]]]:
    def register(fn: Callable[[E], list[Notification]]) -> Callable[[E], list[Notification]]:
        for event_type in event_types:
            RULES[event_type.TYPE] = fn
        return fn

    return register


def notifications_for(event: EventData) -> list[Notification]:
    """Every email the event calls for; none for events that concern nobody by email."""
    decide = RULES.get(event.TYPE)
    return decide(event) if decide else []


def other_parties(event: _RelationshipEvent, default_actor: str | None = None) -> list[str]:
    """The parties who did not act.  Without an actor (the system acted) both parties hear,
    unless the event type has a usual actor (`default_actor`: "mentor" or "mentee")."""
    actor = event.actor_id
    if actor is None and default_actor is not None:
        actor = event.mentor_id if default_actor == "mentor" else event.mentee_id
    return [member for member in (event.mentor_id, event.mentee_id) if member != actor]


def _relationship_note(event: _RelationshipEvent, template: str, recipient_id: str,
                       **context: Any) -> Notification:
    counterpart = event.mentee_id if recipient_id == event.mentor_id else event.mentor_id
    role = "mentor" if recipient_id == event.mentor_id else "mentee"
    actor_about = {"actor": event.actor_id} if event.actor_id else {}
    return Notification(recipient_id, template, about={"counterpart": counterpart, **actor_about},
                        context={"recipient_role": role, **context})


@rule(ProposalSent)
def proposal_received(event: ProposalSent) -> list[Notification]:
    return [_relationship_note(event, "proposal_received", event.mentor_id)]


@rule(ProposalReminderDue)
def proposal_reminder(event: ProposalReminderDue) -> list[Notification]:
    return [_relationship_note(event, "proposal_reminder", event.mentor_id)]


@rule(ProposalExpired)
def proposal_expired(event: ProposalExpired) -> list[Notification]:
    return [_relationship_note(event, "proposal_expired", event.mentee_id,
                               alternatives=[a.model_dump() for a in event.alternatives[:MAX_ALTERNATIVES]])]


@rule(ProposalAccepted)
def proposal_accepted(event: ProposalAccepted) -> list[Notification]:
    return [_relationship_note(event, "proposal_accepted", m) for m in other_parties(event, "mentor")]


@rule(ProposalRejected)
def proposal_rejected(event: ProposalRejected) -> list[Notification]:
    return [_relationship_note(event, "proposal_rejected", m) for m in other_parties(event, "mentor")]


@rule(ProposalWithdrawn)
def proposal_withdrawn(event: ProposalWithdrawn) -> list[Notification]:
    return [_relationship_note(event, "proposal_withdrawn", m) for m in other_parties(event, "mentee")]


@rule(ProposalReopened)
def proposal_reopened(event: ProposalReopened) -> list[Notification]:
    return [_relationship_note(event, "proposal_reopened", m) for m in other_parties(event)]


@rule(ProposalEdited)
def proposal_edited(event: ProposalEdited) -> list[Notification]:
    return [_relationship_note(event, "proposal_edited", m) for m in other_parties(event, "mentee")]


@rule(RelationshipWithdrawn)
def relationship_withdrawn(event: RelationshipWithdrawn) -> list[Notification]:
    return [_relationship_note(event, "relationship_withdrawn", m) for m in other_parties(event)]


@rule(RelationshipCompleted)
def relationship_completed(event: RelationshipCompleted) -> list[Notification]:
    return [_relationship_note(event, "relationship_completed", m) for m in other_parties(event)]


def message_id_for(event_id: str, recipient_id: str, domain: str = "connect.notifier") -> str:
    """The same event and recipient always give the same Message-ID, so any duplicate that
    slips through is recognisable (and collapsible) downstream."""
    import uuid

    return f"<{uuid.uuid5(uuid.NAMESPACE_URL, f'connect:{event_id}:{recipient_id}').hex}@{domain}>"
