"""Mentor and mentee profiles, and the rules that keep their controlled fields honest.

Shapes (types, lengths) are checked at the HTTP edge; this module checks what
only the domain knows: every controlled value must be a taxonomy id.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Self

from connect.errors import Forbidden, Invalid, NotFound
from schemas import taxonomy

AVAILABILITY_MESSAGE = "You are currently unavailable to mentees"


class InvalidProfile(Invalid):
    """One or more fields break a domain rule; `errors` holds (field path, message) pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__(errors)


class ProfileNotFound(NotFound):
    """No such member, profile or listed mentor."""


class DeletedAccount(Forbidden):
    """The member deleted their account (or was erased): their tokens are refused."""

    code = "account-deleted"


@dataclass(frozen=True)
class Location:
    country: str = ""
    region: str | None = None
    city: str | None = None


class _Profile:
    """What both profiles share: dict round trip, and validation of their controlled
    fields, each `(path, vocabulary, is_list)` in `CONTROLLED`, in the order errors are listed."""

    CONTROLLED: ClassVar[tuple[tuple[str, str, bool], ...]]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        values = dict(data)
        values["location"] = Location(**(values.get("location") or {}))
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    def validate(self) -> None:
        errors: list[tuple[str, str]] = []
        for path, vocabulary, is_list in self.CONTROLLED:
            value: Any = self
            for part in path.split("."):
                value = getattr(value, part)
            errors += _check_list(path, value, vocabulary) if is_list else _check_one(path, value, vocabulary)
        country = self.location.country  # type: ignore[attr-defined]
        if country and not taxonomy.is_country(country):
            errors.append(("location.country", f"{country!r} is not an ISO 3166-1 alpha-2 country code"))
        if errors:
            raise InvalidProfile(errors)


@dataclass(frozen=True)
class MentorProfile(_Profile):
    headline: str = ""
    bio: str = ""
    expertise: list[str] = field(default_factory=list)
    sectors: list[str] = field(default_factory=list)
    career_stage: str | None = None
    years_experience: int | None = None
    qualifications: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    interaction_modes: list[str] = field(default_factory=list)
    location: Location = field(default_factory=Location)
    employer: str | None = None
    interests: list[str] = field(default_factory=list)

    CONTROLLED: ClassVar[tuple[tuple[str, str, bool], ...]] = (
        ("expertise", "expertise", True),
        ("sectors", "sectors", True),
        ("career_stage", "career_stages", False),
        ("qualifications", "qualifications", True),
        ("languages", "languages", True),
        ("interaction_modes", "interaction_modes", True),
        ("location.region", "regions", False),
    )


@dataclass(frozen=True)
class MenteeProfile(_Profile):
    goals: str = ""
    areas_sought: list[str] = field(default_factory=list)
    career_stage: str | None = None
    sectors: list[str] = field(default_factory=list)
    location: Location = field(default_factory=Location)
    languages: list[str] = field(default_factory=list)
    interaction_modes: list[str] = field(default_factory=list)
    interests: list[str] = field(default_factory=list)

    CONTROLLED: ClassVar[tuple[tuple[str, str, bool], ...]] = (
        ("areas_sought", "expertise", True),
        ("sectors", "sectors", True),
        ("career_stage", "career_stages", False),
        ("languages", "languages", True),
        ("interaction_modes", "interaction_modes", True),
        ("location.region", "regions", False),
    )


def _check_list(path: str, values: list[str], vocabulary: str) -> list[tuple[str, str]]:
    allowed = taxonomy.ids(vocabulary)
    return [(f"{path}.{i}", f"{value!r} is not a known {vocabulary} id (see GET /v1/taxonomy)")
            for i, value in enumerate(values) if value not in allowed]


def _check_one(path: str, value: str | None, vocabulary: str) -> list[tuple[str, str]]:
    if value is None or value in taxonomy.ids(vocabulary):
        return []
    return [(path, f"{value!r} is not a known {vocabulary} id (see GET /v1/taxonomy)")]


def load_level(pending: int, active: int) -> int:
    """0 (idle) .. 4 (busy): how much a mentor already carries, for the ranking nudge."""
    load = pending + active
    if load == 0:
        return 0
    if load <= 1:
        return 1
    if load <= 3:
        return 2
    if load <= 6:
        return 3
    return 4


def normalise_tag(value: str) -> str:
    """Free-text tags (interests, employer) compare case- and space-insensitively."""
    return " ".join(value.lower().split())


def index_document(member_id: str, name: str, profile: MentorProfile, level: int) -> dict[str, Any]:
    """What the search index stores for one listed mentor: flat, engine-neutral."""
    return {
        "member_id": member_id,
        "name": name,
        "headline": profile.headline,
        "bio": profile.bio,
        "expertise": list(profile.expertise),
        "expertise_text": taxonomy.expertise_text(profile.expertise),
        "sectors": list(profile.sectors),
        "career_stage": [profile.career_stage] if profile.career_stage else [],
        "years_experience": profile.years_experience if profile.years_experience is not None else 0,
        "qualifications": list(profile.qualifications),
        "languages": list(profile.languages),
        "interaction_modes": list(profile.interaction_modes),
        "region": [profile.location.region] if profile.location.region else [],
        "country": [profile.location.country.upper()] if profile.location.country else [],
        "employer": [normalise_tag(profile.employer)] if profile.employer else [],
        "interests": sorted({normalise_tag(i) for i in profile.interests if i.strip()}),
        "load_level": level,
        "profile": profile.to_dict(),
    }
