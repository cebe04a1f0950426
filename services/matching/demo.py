"""Realistic fake members for `connect seed-demo` and the benchmark (deterministic per seed)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterator

from faker import Faker

from schemas import taxonomy
from services.matching.domain.profiles import Location, MenteeProfile, MentorProfile

# Most members are UK-based English speakers; the rest spread over the taxonomy.
_UK_REGIONS = [t.id for t in taxonomy.REGIONS][:14]
_INTERESTS = ["cycling", "running", "chess", "football", "rugby", "cricket", "sailing", "hiking", "photography",
              "cooking", "music", "theatre", "volunteering", "gardening", "travel", "reading", "golf", "yoga"]
_EMPLOYERS = ["Aviva", "Legal & General", "Zurich", "Allianz", "AXA", "Hiscox", "Beazley", "Marsh", "Aon",
              "WTW", "Gallagher", "Direct Line", "Admiral", "RSA", "QBE", "Chubb", "Lloyd's", "Phoenix Group",
              "Royal London", "St. James's Place", "Crawford & Company", "Sedgwick"]
_OPENERS = [
    "I have spent {years} years in {sector}, most recently as {role}.",
    "{role} with {years} years' experience across {sector}.",
    "After {years} years in {sector} I now lead a team as {role}.",
]
_MIDDLES = [
    "I enjoy helping people with {area} and {area2}.",
    "Mentees usually come to me for {area}; I can also help with {area2}.",
    "I can share what I learnt about {area} the hard way, and about {area2}.",
]
_CLOSERS = [
    "Happy to meet {mode}.",
    "I prefer {mode}, and answer proposals within a few days.",
    "Outside work you will find me {interest}.",
]
_ROLES = ["underwriting manager", "claims director", "senior broker", "head of compliance", "chartered financial planner",
          "risk manager", "actuarial analyst", "operations lead", "product manager", "account executive"]


@dataclass
class FakeMember:
    member_id: str
    name: str
    email: str
    mentor: MentorProfile | None
    mentee: MenteeProfile | None


def _label(vocabulary: str, term_id: str) -> str:
    return taxonomy.label(vocabulary, term_id).lower()


def _location(rng: random.Random, faker: Faker) -> Location:
    if rng.random() < 0.9:
        return Location(country="GB", region=rng.choice(_UK_REGIONS), city=faker.city())
    region = rng.choice(["ireland", "europe", "middle_east", "africa", "asia_pacific", "americas"])
    country = {"ireland": "IE", "europe": rng.choice(["FR", "DE", "NL", "ES"]), "middle_east": "AE",
               "africa": rng.choice(["ZA", "NG", "KE"]), "asia_pacific": rng.choice(["SG", "HK", "AU"]),
               "americas": rng.choice(["US", "CA"])}[region]
    return Location(country=country, region=region, city=None)


def _languages(rng: random.Random) -> list[str]:
    others = [t.id for t in taxonomy.LANGUAGES if t.id != "en"]
    return ["en"] + rng.sample(others, k=rng.choice([0, 0, 0, 1, 1, 2]))


def fake_mentor_profile(rng: random.Random, faker: Faker) -> MentorProfile:
    expertise_ids = [t.id for t in taxonomy.EXPERTISE]
    expertise = rng.sample(expertise_ids, k=rng.randint(1, 4))
    sectors = rng.sample([t.id for t in taxonomy.SECTORS], k=rng.randint(1, 2))
    stage = rng.choices(["mid", "senior", "executive", "retired"], weights=[3, 5, 2, 1])[0]
    years = {"mid": rng.randint(5, 12), "senior": rng.randint(10, 25), "executive": rng.randint(18, 35),
             "retired": rng.randint(30, 45)}[stage]
    modes = rng.sample(["in_person", "video", "email"], k=rng.randint(1, 3))
    role = rng.choice(_ROLES)
    interests = rng.sample(_INTERESTS, k=rng.randint(0, 3))
    text = " ".join([
        rng.choice(_OPENERS).format(years=years, sector=_label("sectors", sectors[0]), role=role),
        rng.choice(_MIDDLES).format(area=_label("expertise", expertise[0]),
                                    area2=_label("expertise", expertise[-1])),
        rng.choice(_CLOSERS).format(mode=_label("interaction_modes", modes[0]),
                                    interest=interests[0] if interests else "walking the dog"),
    ])
    bio = text[0].upper() + text[1:]
    return MentorProfile(
        headline=f"{role.capitalize()} — {taxonomy.label('expertise', expertise[0])}",
        bio=bio,
        expertise=expertise,
        sectors=sectors,
        career_stage=stage,
        years_experience=years,
        qualifications=rng.sample([t.id for t in taxonomy.QUALIFICATIONS], k=rng.randint(0, 3)),
        languages=_languages(rng),
        interaction_modes=modes,
        location=_location(rng, faker),
        employer=rng.choice(_EMPLOYERS),
        interests=interests,
    )


def fake_mentee_profile(rng: random.Random, faker: Faker) -> MenteeProfile:
    areas = rng.sample([t.id for t in taxonomy.EXPERTISE], k=rng.randint(1, 3))
    return MenteeProfile(
        goals=f"I would like help with {_label('expertise', areas[0])} as I {rng.choice(['start out', 'prepare for my exams', 'step up to management', 'change sector'])}.",
        areas_sought=areas,
        career_stage=rng.choice(["student", "early", "early", "mid"]),
        sectors=rng.sample([t.id for t in taxonomy.SECTORS], k=1),
        location=_location(rng, faker),
        languages=_languages(rng),
        interaction_modes=rng.sample(["in_person", "video", "email"], k=rng.randint(1, 3)),
        interests=rng.sample(_INTERESTS, k=rng.randint(0, 3)),
    )


def fake_members(mentors: int, mentees: int, seed: int = 7, prefix: str = "DEMO") -> Iterator[FakeMember]:
    """`mentors` members with a mentor profile (a fifth of them also mentees), then `mentees` mentees."""
    rng = random.Random(seed)
    faker = Faker("en_GB")
    faker.seed_instance(seed)
    for n in range(mentors + mentees):
        name = faker.name()
        member_id = f"{prefix}{n + 1:06d}"
        email = f"{member_id.lower()}@example.org"
        is_mentor = n < mentors
        mentor = fake_mentor_profile(rng, faker) if is_mentor else None
        mentee = fake_mentee_profile(rng, faker) if (not is_mentor or rng.random() < 0.2) else None
        yield FakeMember(member_id, name, email, mentor, mentee)
