"""Every event Connect publishes, and the envelope that carries it.

Within a topic version only additive changes are allowed: new optional fields,
new event types.  Consumers ignore fields they do not know and skip types they
do not know, so older consumers keep working.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

RELATIONSHIPS_TOPIC = "connect.relationships.v1"
PROFILES_TOPIC = "connect.profiles.v1"
MEMBERS_TOPIC = "connect.members.v1"

ENVELOPE_VERSION = 1


class Envelope(BaseModel):
    """What travels on the wire; `key` is the partition key (relationship or member id)."""

    model_config = ConfigDict(extra="ignore")

    event_id: uuid.UUID
    type: str
    version: int = Field(ge=1)
    occurred_at: datetime
    producer: str
    key: str
    data: dict[str, Any]

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> "Envelope":
        return cls.model_validate_json(raw)

    def payload(self) -> "EventData":
        """The typed payload; raises UnknownEvent for a type or version we cannot read."""
        cls = EVENT_TYPES.get(self.type)
        if cls is None:
            raise UnknownEvent(f"unknown event type {self.type!r}")
        if self.version > cls.VERSION:
            raise UnknownEvent(f"{self.type} version {self.version} is newer than {cls.VERSION}")
        return cls.model_validate(self.data)

    @property
    def topic(self) -> str:
        cls = EVENT_TYPES.get(self.type)
        if cls is None:
            raise UnknownEvent(f"unknown event type {self.type!r}")
        return cls.TOPIC


class UnknownEvent(ValueError):
    pass


class EventData(BaseModel):
    """Base of every payload.  `TYPE` defaults to the class name."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1
    TOPIC: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "TYPE" not in cls.__dict__:
            cls.TYPE = cls.__name__

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if getattr(cls, "TOPIC", None) and not cls.__name__.startswith("_"):
            EVENT_TYPES[cls.TYPE] = cls

    def key(self) -> str:
        raise NotImplementedError

    def envelope(self, *, producer: str, occurred_at: datetime, event_id: uuid.UUID | None = None) -> Envelope:
        return Envelope(
            event_id=event_id or uuid.uuid4(), type=self.TYPE, version=self.VERSION,
            occurred_at=occurred_at, producer=producer, key=self.key(),
            data=self.model_dump(mode="json"),
        )


EVENT_TYPES: dict[str, type[EventData]] = {}


# --- members and profiles (producer: matching) ------------------------------------


class _MemberEvent(EventData):
    TOPIC: ClassVar[str] = MEMBERS_TOPIC
    member_id: str

    def key(self) -> str:
        return self.member_id


class MemberDetailsChanged(_MemberEvent):
    """Name or email changed at the membership system (seen on a token)."""

    name: str
    email: str


class AccountDeleted(_MemberEvent):
    """The member deleted their account: inactive everywhere, out of search."""


class MemberErased(_MemberEvent):
    """Every service must remove or anonymise the member's personal data."""


class _ProfileEvent(EventData):
    TOPIC: ClassVar[str] = PROFILES_TOPIC
    member_id: str

    def key(self) -> str:
        return self.member_id


class MentorProfileChanged(_ProfileEvent):
    """A mentor profile was created or replaced.  `available` and `active` together say
    whether the mentor may receive proposals (both must be true)."""

    available: bool
    expertise: list[str] = Field(default_factory=list)
    name: str = ""
    headline: str = ""
    active: bool = True


class MentorAvailabilityChanged(_ProfileEvent):
    available: bool
    active: bool = True
    name: str = ""


class MenteeProfileChanged(_ProfileEvent):
    areas_sought: list[str] = Field(default_factory=list)


# --- relationships (producer: relationships) ---------------------------------------


class _RelationshipEvent(EventData):
    """What every relationship event says, and what it means for the relationship's lifecycle
    (docs/api.md, "Relationships"); consumers read these instead of keeping tables of types."""

    TOPIC: ClassVar[str] = RELATIONSHIPS_TOPIC
    #: The relationship's status once this event happened; None for events that say nothing
    #: about it (the workspace's).
    STATUS_AFTER: ClassVar[str | None] = None
    #: The event is a move of the state machine (to STATUS_AFTER); an edit or a reminder is not.
    MOVES_STATUS: ClassVar[bool] = False
    #: The proposal was sent or reopened: the mentor's time to answer starts now.
    STARTS_PROPOSAL: ClassVar[bool] = False
    #: The mentor answered the proposal (accepted or rejected it).
    ANSWERS_PROPOSAL: ClassVar[bool] = False

    relationship_id: str
    mentor_id: str
    mentee_id: str
    actor_id: str | None = None
    reason: str | None = None

    def key(self) -> str:
        return self.relationship_id


class ProposalSent(_RelationshipEvent):
    STATUS_AFTER: ClassVar[str | None] = "pending"
    MOVES_STATUS: ClassVar[bool] = True
    STARTS_PROPOSAL: ClassVar[bool] = True

    message: str = ""
    areas: list[str] = Field(default_factory=list)
    goals: str = ""
    interaction_modes: list[str] = Field(default_factory=list)
    duration_months: int = 12


class ProposalEdited(_RelationshipEvent):
    STATUS_AFTER: ClassVar[str | None] = "pending"

    changed_fields: list[str] = Field(default_factory=list)
    proposal_version: int = 1


class ProposalAccepted(_RelationshipEvent):
    STATUS_AFTER: ClassVar[str | None] = "accepted"
    MOVES_STATUS: ClassVar[bool] = True
    ANSWERS_PROPOSAL: ClassVar[bool] = True


class ProposalRejected(_RelationshipEvent):
    STATUS_AFTER: ClassVar[str | None] = "rejected"
    MOVES_STATUS: ClassVar[bool] = True
    ANSWERS_PROPOSAL: ClassVar[bool] = True


class ProposalWithdrawn(_RelationshipEvent):
    STATUS_AFTER: ClassVar[str | None] = "withdrawn"
    MOVES_STATUS: ClassVar[bool] = True

    #: The actor withdrew because they deleted their account (they left Connect); the actor
    #: may then be the mentor of a pending proposal.
    account_deleted: bool = False


class ProposalReopened(_RelationshipEvent):
    STATUS_AFTER: ClassVar[str | None] = "pending"
    MOVES_STATUS: ClassVar[bool] = True
    STARTS_PROPOSAL: ClassVar[bool] = True


class ProposalReminderDue(_RelationshipEvent):
    STATUS_AFTER: ClassVar[str | None] = "pending"

    day: int
    sent_at: datetime | None = None


class AlternativeMentor(BaseModel):
    member_id: str
    name: str
    headline: str = ""
    #: Expertise ids (taxonomy) the mentor shares with the expired proposal's areas.
    matched_areas: list[str] = Field(default_factory=list)
    #: Why this mentor was suggested, in words for the mentee (the areas' labels).
    why: str = ""


class ProposalExpired(_RelationshipEvent):
    STATUS_AFTER: ClassVar[str | None] = "expired"
    MOVES_STATUS: ClassVar[bool] = True

    areas: list[str] = Field(default_factory=list)
    alternatives: list[AlternativeMentor] = Field(default_factory=list)


class RelationshipWithdrawn(_RelationshipEvent):
    STATUS_AFTER: ClassVar[str | None] = "withdrawn"
    MOVES_STATUS: ClassVar[bool] = True

    #: The actor withdrew because they deleted their account (they left Connect).
    account_deleted: bool = False


class RelationshipCompleted(_RelationshipEvent):
    STATUS_AFTER: ClassVar[str | None] = "completed"
    MOVES_STATUS: ClassVar[bool] = True

    #: Completed by the timers at the planned end (`actor_id` is None), not by a party.
    planned_end_reached: bool = False


class RelationshipEndingSoon(_RelationshipEvent):
    """The timers: an accepted relationship reaches its planned end in 14 days; both parties hear."""

    STATUS_AFTER: ClassVar[str | None] = "accepted"

    planned_end: datetime


# --- relationship workspace (producer: relationships) -------------------------------
# The party to notify is the one who did not act (`actor_id`); bodies of messages and
# tool contents never travel in events, only what an email needs to point at them.


class _MeetingEvent(_RelationshipEvent):
    meeting_id: str
    starts_at: datetime  # UTC
    duration_minutes: int
    mode: str  # in_person | video | email (the interaction modes of the taxonomy)
    location_or_link: str = ""
    agenda: str = ""
    # IANA zone the organiser works in; emails show the local time beside UTC.
    time_zone: str = "UTC"
    # iCalendar SEQUENCE: 0 when scheduled, +1 on every change and on cancellation;
    # the UID is derived from meeting_id so updates replace the same calendar entry.
    sequence: int = 0
    # The member who arranged the meeting (the calendar's ORGANIZER); `actor_id` is who
    # scheduled, changed or cancelled it this time.  None in events written before it existed.
    organiser_id: str | None = None


class MeetingScheduled(_MeetingEvent):
    pass


class MeetingChanged(_MeetingEvent):
    changed_fields: list[str] = Field(default_factory=list)


class MeetingCancelled(_MeetingEvent):
    pass


class MessagePosted(_RelationshipEvent):
    message_id: str
    sender_id: str
    recipient_id: str
    # False while an earlier email about unread messages is still outstanding for this
    # recipient in this relationship: a burst of messages gives one email, not twenty.
    notify: bool = True


class ToolSaved(_RelationshipEvent):
    kind: str  # swot | gstar | goals | agreement
    tool_id: str
    version: int


class PartnerNudged(_RelationshipEvent):
    """`actor_id` asks the quiet partner `recipient_id` to get back in touch."""

    recipient_id: str


class SupportMessageSentToPartner(_RelationshipEvent):
    """The customer service team (`actor_id`) wrote to `recipient_id`, the partner of the member
    who filed contact_partner request `request_id`; the notifier emails `message` to them."""

    request_id: str
    recipient_id: str
    message: str = ""


class _SupportEvent(EventData):
    TOPIC: ClassVar[str] = MEMBERS_TOPIC
    request_id: str
    member_id: str
    kind: str  # erasure | contact_partner | other
    relationship_id: str | None = None

    def key(self) -> str:
        return self.member_id


class SupportRequestCreated(_SupportEvent):
    pass


class SupportRequestResolved(_SupportEvent):
    outcome: str  # approved | declined | done
    resolved_by: str
    #: What the team wrote to the member on resolving (shown in the request and the email).
    note: str | None = None


# --- erasure (what an erased member leaves in a log of events) ----------------------
# Records keyed by the member on these topics carry only the member's own data; after
# MemberErased they are superseded (a compacted Kafka topic drops them, the embedded log
# deletes them).
TOPICS_KEYED_BY_MEMBER: tuple[str, ...] = (MEMBERS_TOPIC, PROFILES_TOPIC)


def erased_from(envelope: Envelope, member_id: str) -> Envelope | None:
    """The record with the erased member's personal text removed, or None when it carries none.

    For records of other keys (relationships): texts the member wrote or that describe their
    relationships (proposal message and goals, meeting agenda and place, reasons they gave) are
    blanked, and the member is dropped from a ProposalExpired's alternatives (name, headline).
    Membership numbers stay: they are references, and MemberErased itself must carry one.
    """
    data = envelope.data
    scrubbed = dict(data)
    if member_id in (data.get("mentor_id"), data.get("mentee_id")):
        if data.get("actor_id") == member_id and data.get("reason"):
            scrubbed["reason"] = None
        for field in ("message", "goals", "agenda", "location_or_link"):
            if data.get(field):
                scrubbed[field] = ""
    if data.get("alternatives"):
        scrubbed["alternatives"] = [a for a in data["alternatives"] if a.get("member_id") != member_id]
    if scrubbed == data:
        return None
    return envelope.model_copy(update={"data": scrubbed})
