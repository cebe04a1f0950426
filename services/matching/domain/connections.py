"""What two members share: the one comparison behind a search result's `connections`
and the first conversation's "what you share" (the relationships service asks for it).

A member's facts are their mentee and mentor profiles merged, shaped like the
search index's documents (`profiles.index_document`): controlled ids as they are,
free tags (interests, employer) normalised, so the same two members compare the
same wherever they are compared.
"""

from __future__ import annotations

from typing import Any, Iterable

from services.matching.domain.profiles import normalise_tag

#: What two members can share, in the order results and ice-breakers mention them.
CONNECTION_FIELDS = ("sectors", "employer", "region", "interests", "qualifications", "languages")


def member_facts(profiles: Iterable[dict[str, Any]]) -> dict[str, list[str]]:
    """A member's profiles (mentee first, then mentor, as stored) merged into index-document fields."""
    merged: dict[str, list[str]] = {name: [] for name in CONNECTION_FIELDS}

    def add(name: str, values: Iterable[str]) -> None:
        for value in values:
            if value and value not in merged[name]:
                merged[name].append(value)

    for profile in profiles:
        add("sectors", profile.get("sectors") or [])
        add("region", [(profile.get("location") or {}).get("region") or ""])
        add("interests", [normalise_tag(i) for i in profile.get("interests") or []])
        add("languages", profile.get("languages") or [])
        add("qualifications", profile.get("qualifications") or [])
        add("employer", [normalise_tag(profile.get("employer") or "")])
    return merged


def connections(mine: dict[str, Any], theirs: dict[str, Any]) -> list[dict[str, Any]]:
    """What `mine` and `theirs` (member facts or index documents) have in common, as
    `[{"kind", "values"}]` in `mine`'s order."""
    shared = []
    for name in CONNECTION_FIELDS:
        values = mine.get(name)
        if not values:
            continue
        other = theirs.get(name) or ()
        common = [v for v in values if v in other]
        if common:
            shared.append({"kind": name, "values": common})
    return shared
