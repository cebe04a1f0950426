"""The relationship workspace: what two members do once a proposal is accepted.

Plain Python: meetings, the 'first conversation' tools (SWOT, G-STAR, Goals and
the agreement record, each kept as a list of immutable versions), messages,
nudges and the first conversation's ice-breakers.  The rules here decide; the
use cases in `workspace/services.py` load, call and store.

Errors: `WorkspaceInvalid` (bad content, with field paths), `WorkspaceRefused`
(a move the relationship's state does not allow); `connect.problems` gives
them their HTTP form (422, 409).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connect.errors import Conflict, Invalid, NotFound
from connect.etags import entity_tag
from schemas import taxonomy
from schemas.events import (MeetingCancelled, MeetingChanged, MeetingScheduled, MessagePosted, PartnerNudged,
                            ToolSaved)

# --- limits (the API's pydantic models repeat them so a 422 names the field) -----------

MIN_MEETING_MINUTES = 15
MAX_MEETING_MINUTES = 480
#: How far ahead a meeting may be booked: a relationship runs at most 12 months.
MAX_MEETING_LEAD = timedelta(days=2 * 365)
MAX_LOCATION_CHARS = 500
MAX_AGENDA_CHARS = 5000
MEETING_MODES = ("in_person", "video", "email")

MAX_MESSAGE_BODY_CHARS = 5000
#: A recipient with an emailed, still unread message hears nothing more for this long.
MESSAGE_EMAIL_QUIET = timedelta(hours=6)

#: The FAQ's advice: wait 2–4 weeks for a busy partner, then reach out again.
NUDGE_AFTER_QUIET = timedelta(days=14)
NUDGE_AT_MOST_EVERY = timedelta(days=7)

MAX_TOOL_TEXT_CHARS = 5000
MAX_TOOL_ITEMS = 50
MAX_TOOL_ITEM_CHARS = 1000
#: The whole serialized body of one tool version.
MAX_TOOL_BYTES = 64 * 1024


class WorkspaceInvalid(Invalid):
    """Bad content; `errors` maps a field path to a message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)


class WorkspaceRefused(Conflict):
    """Not allowed in the current state: the relationship's (`current_status` given: the
    workspace is not open) or the thing's own (a cancelled meeting...)."""

    def __init__(self, detail: str, **facts: Any) -> None:
        super().__init__(detail, code="workspace-not-open" if "current_status" in facts else "conflict", **facts)


class NotInWorkspace(NotFound):
    """No such meeting or tool in this relationship."""


@dataclass(frozen=True)
class Parties:
    """Who is in the relationship and where it stands; the workspace needs no more of it."""

    relationship_id: str
    mentor_id: str
    mentee_id: str
    status: str
    accepted_at: datetime | None = None

    def other(self, member_id: str) -> str:
        return self.mentee_id if member_id == self.mentor_id else self.mentor_id

    def ids(self, actor_id: str | None) -> dict[str, Any]:
        return {"relationship_id": self.relationship_id, "mentor_id": self.mentor_id,
                "mentee_id": self.mentee_id, "actor_id": actor_id}

    @property
    def workspace_open(self) -> bool:
        """Tools, meetings and nudges are for an accepted relationship only."""
        return self.status == "accepted"

    @property
    def workspace_readable(self) -> bool:
        """What was written while accepted stays readable after withdrawal or completion."""
        return self.status == "accepted" or (self.accepted_at is not None
                                             and self.status in ("completed", "withdrawn"))

    def require_open(self, what: str) -> None:
        if not self.workspace_open:
            raise WorkspaceRefused(
                f"{what} are open once the relationship is accepted; it is {self.status}.",
                current_status=self.status)

    def require_readable(self, what: str) -> None:
        if not self.workspace_readable:
            raise WorkspaceRefused(
                f"{what} are open once the relationship is accepted; it is {self.status}.",
                current_status=self.status)


def check_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise WorkspaceInvalid({"time_zone": f"{name!r} is not an IANA time zone such as Europe/London"}) from None
    return name


# --- meetings -----------------------------------------------------------------------


class MeetingStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


MEETING_FIELDS = ("starts_at", "duration_minutes", "mode", "location_or_link", "agenda", "time_zone")


@dataclass(frozen=True)
class MeetingDetails:
    starts_at: datetime
    duration_minutes: int
    mode: str
    location_or_link: str = ""
    agenda: str = ""
    time_zone: str = "UTC"

    def validate(self, now: datetime) -> None:
        errors: dict[str, str] = {}
        if self.starts_at.tzinfo is None:
            errors["starts_at"] = "must carry a time zone offset (UTC: a trailing Z)"
        elif self.starts_at <= now:
            errors["starts_at"] = "must be in the future"
        elif self.starts_at > now + MAX_MEETING_LEAD:
            errors["starts_at"] = f"must be within {MAX_MEETING_LEAD.days} days from now"
        if not MIN_MEETING_MINUTES <= self.duration_minutes <= MAX_MEETING_MINUTES:
            errors["duration_minutes"] = f"must be between {MIN_MEETING_MINUTES} and {MAX_MEETING_MINUTES}"
        if self.mode not in MEETING_MODES:
            errors["mode"] = "must be one of " + ", ".join(MEETING_MODES)
        if len(self.location_or_link) > MAX_LOCATION_CHARS:
            errors["location_or_link"] = f"must be at most {MAX_LOCATION_CHARS} characters"
        if len(self.agenda) > MAX_AGENDA_CHARS:
            errors["agenda"] = f"must be at most {MAX_AGENDA_CHARS} characters"
        try:
            check_time_zone(self.time_zone)
        except WorkspaceInvalid as exc:
            errors.update(exc.errors)
        if errors:
            raise WorkspaceInvalid(errors)

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)


@dataclass
class Meeting:
    id: str
    relationship_id: str
    organiser_id: str
    details: MeetingDetails
    status: MeetingStatus
    sequence: int
    created_at: datetime
    updated_at: datetime
    events: list[Any] = field(default_factory=list)

    @classmethod
    def schedule(cls, meeting_id: str, parties: Parties, organiser_id: str, details: MeetingDetails,
                 now: datetime) -> "Meeting":
        parties.require_open("Meetings")
        details.validate(now)
        meeting = cls(meeting_id, parties.relationship_id, organiser_id, details, MeetingStatus.SCHEDULED, 0,
                      now, now)
        meeting.events.append(MeetingScheduled(**meeting._payload(parties, organiser_id)))
        return meeting

    def _payload(self, parties: Parties, actor_id: str) -> dict[str, Any]:
        d = self.details
        return {**parties.ids(actor_id), "meeting_id": self.id, "starts_at": d.starts_at,
                "duration_minutes": d.duration_minutes, "mode": d.mode, "location_or_link": d.location_or_link,
                "agenda": d.agenda, "time_zone": d.time_zone, "sequence": self.sequence,
                "organiser_id": self.organiser_id}

    def _require_changeable(self, parties: Parties, now: datetime) -> None:
        parties.require_open("Meetings")
        if self.status is MeetingStatus.CANCELLED:
            raise WorkspaceRefused("This meeting was cancelled.", meeting_status=self.status.value)
        if self.details.starts_at <= now:
            raise WorkspaceRefused("This meeting has already started; it can no longer be changed.",
                                   meeting_status=self.status.value)

    def change(self, parties: Parties, actor_id: str, changes: dict[str, Any], now: datetime) -> list[str]:
        """Either party may move or amend a future meeting; returns the changed fields."""
        self._require_changeable(parties, now)
        unknown = set(changes) - set(MEETING_FIELDS)
        if unknown:
            raise WorkspaceInvalid({name: "cannot be changed" for name in sorted(unknown)})
        new = replace(self.details, **changes)
        new.validate(now)
        changed = [name for name in MEETING_FIELDS if getattr(new, name) != getattr(self.details, name)]
        if not changed:
            return []
        self.details = new
        self.sequence += 1
        self.updated_at = now
        self.events.append(MeetingChanged(**self._payload(parties, actor_id), changed_fields=changed))
        return changed

    def cancel(self, parties: Parties, actor_id: str, now: datetime, *, reason: str | None = None) -> None:
        self._require_changeable(parties, now)
        self.status = MeetingStatus.CANCELLED
        self.sequence += 1
        self.updated_at = now
        self.events.append(MeetingCancelled(**self._payload(parties, actor_id), reason=reason))

    def cancel_for_withdrawal(self, parties: Parties, actor_id: str, now: datetime, reason: str) -> None:
        """A future meeting of a relationship that is ending is cancelled, whatever its state now."""
        if self.status is MeetingStatus.CANCELLED or self.details.starts_at <= now:
            return
        self.status = MeetingStatus.CANCELLED
        self.sequence += 1
        self.updated_at = now
        self.events.append(MeetingCancelled(**self._payload(parties, actor_id), reason=reason))

    def held_by(self, now: datetime) -> bool:
        """Counted in the CPD record: not cancelled and over."""
        return self.status is MeetingStatus.SCHEDULED and self.details.ends_at <= now


# --- tools ----------------------------------------------------------------------------


class ToolKind(StrEnum):
    SWOT = "swot"
    GSTAR = "gstar"
    GOALS = "goals"
    AGREEMENT = "agreement"


GOAL_STATUSES = ("not_started", "in_progress", "achieved", "dropped")
ARRANGERS = ("mentor", "mentee", "both")

#: The fields of each kind: "list" (list of short texts), "text", "date", or a tuple of allowed values.
TOOL_FIELDS: dict[ToolKind, dict[str, Any]] = {
    ToolKind.SWOT: {"strengths": "list", "weaknesses": "list", "opportunities": "list", "threats": "list"},
    ToolKind.GSTAR: {"goals": "text", "situation": "text", "thinking": "text", "actions": "text",
                     "results": "text"},
    ToolKind.GOALS: {"goal": "text", "tasks": "list", "success_criteria": "text", "target_date": "date",
                     "status": GOAL_STATUSES, "learning_outcomes": "text"},
    ToolKind.AGREEMENT: {"contact_methods": "text", "meeting_frequency": "text", "meeting_place": "text",
                         "arranges_meetings": ARRANGERS, "other_practicalities": "text"},
}
REQUIRED_TOOL_FIELDS: dict[ToolKind, tuple[str, ...]] = {ToolKind.GOALS: ("goal",)}


def _empty(kind: ToolKind, name: str) -> Any:
    spec = TOOL_FIELDS[kind][name]
    if spec == "list":
        return []
    if spec == "text":
        return ""
    if spec == "date":
        return None
    return spec[0] if kind is ToolKind.GOALS else None


def normalise_tool_content(kind: ToolKind, content: dict[str, Any]) -> dict[str, Any]:
    """The full body of one version: every field of the kind present, limits checked."""
    errors: dict[str, str] = {}
    for name in content:
        if name not in TOOL_FIELDS[kind]:
            errors[name] = f"is not a field of a {kind} tool"
    result: dict[str, Any] = {}
    for name, spec in TOOL_FIELDS[kind].items():
        value = content.get(name)
        if value is None:
            result[name] = _empty(kind, name)
            continue
        if spec == "list":
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                errors[name] = "must be a list of texts"
            elif len(value) > MAX_TOOL_ITEMS:
                errors[name] = f"must have at most {MAX_TOOL_ITEMS} items"
            else:
                for index, item in enumerate(value):
                    if len(item) > MAX_TOOL_ITEM_CHARS:
                        errors[f"{name}.{index}"] = f"must be at most {MAX_TOOL_ITEM_CHARS} characters"
                result[name] = [item.strip() for item in value if item.strip()]
        elif spec == "text":
            if not isinstance(value, str):
                errors[name] = "must be a text"
            elif len(value) > MAX_TOOL_TEXT_CHARS:
                errors[name] = f"must be at most {MAX_TOOL_TEXT_CHARS} characters"
            else:
                result[name] = value.strip()
        elif spec == "date":
            try:
                result[name] = date.fromisoformat(value).isoformat() if isinstance(value, str) else None
            except ValueError:
                result[name] = None
            if result[name] is None:
                errors[name] = "must be a date such as 2027-03-31"
        else:
            if value not in spec:
                errors[name] = "must be one of " + ", ".join(spec)
            result[name] = value
    for name in REQUIRED_TOOL_FIELDS.get(kind, ()):
        if not errors.get(name) and not result.get(name):
            errors[name] = "must not be empty"
    if not errors and len(json.dumps(result).encode()) > MAX_TOOL_BYTES:
        errors["$"] = f"the tool must be at most {MAX_TOOL_BYTES // 1024} KiB in all"
    if errors:
        raise WorkspaceInvalid(errors)
    return result


@dataclass(frozen=True)
class ToolVersion:
    number: int
    content: dict[str, Any]
    author_id: str
    at: datetime


@dataclass
class Tool:
    """One SWOT, G-STAR, Goals or agreement record; every save is a new version."""

    id: str
    relationship_id: str
    kind: ToolKind
    current: ToolVersion
    created_at: datetime
    new_versions: list[ToolVersion] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)

    @classmethod
    def create(cls, tool_id: str, parties: Parties, kind: ToolKind, author_id: str, content: dict[str, Any],
               now: datetime) -> "Tool":
        parties.require_open("The first-conversation tools")
        version = ToolVersion(1, normalise_tool_content(kind, content), author_id, now)
        tool = cls(tool_id, parties.relationship_id, kind, version, now, [version])
        tool.events.append(ToolSaved(**parties.ids(author_id), kind=kind.value, tool_id=tool_id, version=1))
        return tool

    @property
    def etag(self) -> str:
        return entity_tag(self.id, self.current.number)

    def amend(self, parties: Parties, author_id: str, content: dict[str, Any], now: datetime) -> bool:
        """Replace the content with a new version; False (nothing recorded) when nothing changed."""
        parties.require_open("The first-conversation tools")
        normalised = normalise_tool_content(self.kind, content)
        if normalised == self.current.content:
            return False
        version = ToolVersion(self.current.number + 1, normalised, author_id, now)
        self.current = version
        self.new_versions.append(version)
        self.events.append(ToolSaved(**parties.ids(author_id), kind=self.kind.value, tool_id=self.id,
                                     version=version.number))
        return True


# --- messages and nudges ------------------------------------------------------------------


def check_message_body(body: str) -> str:
    if not body.strip():
        raise WorkspaceInvalid({"body": "must not be empty"})
    if len(body) > MAX_MESSAGE_BODY_CHARS:
        raise WorkspaceInvalid({"body": f"must be at most {MAX_MESSAGE_BODY_CHARS} characters"})
    return body


def post_message(parties: Parties, message_id: str, sender_id: str, body: str, *,
                 email_outstanding: bool) -> MessagePosted:
    """The event for a new message.  Messages are for a live relationship (pending or
    accepted): after withdrawal, rejection, expiry or completion there is no one to write to.

    `email_outstanding`: the recipient was already emailed about a message they have not
    read yet, within MESSAGE_EMAIL_QUIET; then this one sends no email of its own."""
    if parties.status not in ("pending", "accepted"):
        raise WorkspaceRefused(f"The relationship is {parties.status}; messages can no longer be sent.",
                               current_status=parties.status)
    check_message_body(body)
    return MessagePosted(**parties.ids(sender_id), message_id=message_id, sender_id=sender_id,
                         recipient_id=parties.other(sender_id), notify=not email_outstanding)


class NudgeNotAllowed(Conflict):
    """A nudge refused, and why (`why`): the relationship is not accepted
    (`relationship_not_accepted`, with `current_status`), the partner was active lately
    (`partner_active`) or the sender nudged lately (`nudged_recently`); `allowed_from` says
    when a nudge will be possible (not for a relationship that is not accepted)."""

    code = "nudge-not-allowed"

    def __init__(self, detail: str, why: str, allowed_from: datetime | None = None, **facts: Any) -> None:
        when = {"allowed_from": allowed_from.isoformat().replace("+00:00", "Z")} if allowed_from else {}
        super().__init__(detail, why=why, **when, **facts)
        self.why = why
        self.allowed_from = allowed_from


def nudge_refusal(parties: Parties, partner_last_active: datetime | None, last_nudge: datetime | None,
                  now: datetime) -> NudgeNotAllowed | None:
    """Why the sender may not nudge now (None: they may); `last_nudge` is the sender's own last nudge;
    `now` is the Clock's, like every timer's."""
    if not parties.workspace_open:
        return NudgeNotAllowed(f"Only a partner in an accepted relationship can be nudged; it is {parties.status}.",
                               "relationship_not_accepted", current_status=parties.status)
    quiet_since = partner_last_active or parties.accepted_at
    if quiet_since is not None and now - quiet_since < NUDGE_AFTER_QUIET:
        return NudgeNotAllowed(f"Your partner was active on {quiet_since.date().isoformat()}; give them "
                               f"{NUDGE_AFTER_QUIET.days} days before a nudge.", "partner_active",
                               quiet_since + NUDGE_AFTER_QUIET)
    if last_nudge is not None and now - last_nudge < NUDGE_AT_MOST_EVERY:
        return NudgeNotAllowed(f"You nudged your partner on {last_nudge.date().isoformat()}; at most one nudge "
                               f"every {NUDGE_AT_MOST_EVERY.days} days.", "nudged_recently",
                               last_nudge + NUDGE_AT_MOST_EVERY)
    return None


def nudge(parties: Parties, sender_id: str, partner_last_active: datetime | None, last_nudge: datetime | None,
          now: datetime) -> PartnerNudged:
    refusal = nudge_refusal(parties, partner_last_active, last_nudge, now)
    if refusal is not None:
        raise refusal
    return PartnerNudged(**parties.ids(sender_id), recipient_id=parties.other(sender_id))


# --- the first conversation -------------------------------------------------------------


ICE_BREAKERS = (
    "What are you working on at the moment, and what is the hardest part of it?",
    "Which career accomplishment are you most proud of, and why?",
    "What would make this mentoring relationship a success for you in {months} months?",
    "How do you prefer to keep in touch, how often shall we meet, and who sets the meetings up?",
)


#: What two members share, as a sentence (kind: (vocabulary of its ids or None for free tags, wording)).
_SHARED = {
    "languages": ("languages", "You both speak {values}."),
    "sectors": ("sectors", "You both work in {values}."),
    "employer": (None, "You both work for {values}."),
    "region": ("regions", "You are both based in {values}."),
    "qualifications": ("qualifications", "You both hold {values}."),
    "interests": (None, "You share an interest in {values}."),
}


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def shared_sentence(kind: str, values: list[str]) -> str | None:
    """'You both speak English and Welsh.': taxonomy labels, never ids; None for nothing shared."""
    vocabulary, wording = _SHARED.get(kind, (None, "You share {values}."))
    words = [taxonomy.label(vocabulary, str(v)) if vocabulary else str(v) for v in values if v]
    return wording.format(values=_and(words)) if words else None


def ice_breakers(areas: list[str], shared: list[dict[str, Any]], duration_months: int) -> list[str]:
    """Prompts for the first conversation: what the two share first (in words), then the FAQ's suggestions."""
    prompts = []
    for connection in shared:
        sentence = shared_sentence(str(connection.get("kind", "")), list(connection.get("values", [])))
        if sentence:
            prompts.append(f"{sentence} How did that shape your career so far?")
    if areas:
        labels = [taxonomy.label("expertise", a) if a in taxonomy.ids("expertise") else a for a in areas]
        prompts.append(f"The proposal names {_and(labels)}: which matters most right now?")
    prompts.extend(p.format(months=duration_months) for p in ICE_BREAKERS)
    return prompts
