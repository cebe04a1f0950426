"""The one query model of mentor search, and the ranking rules every engine must follow.

A search is built once here and compiled by each search adapter (tantivy, the
Elasticsearch/OpenSearch DSL).  Its score is made only of constant parts, so
every engine that evaluates the same clauses gives the same number:

    score = Σ weight of each met criterion                  (the order of results)
          + text relevance ≤ TEXT_SHARE × smallest weight    (refines, never outweighs a criterion)
          + load nudge     ≤ NUDGE_SHARE × smallest weight   (smaller still)

    text relevance = TEXT_SHARE × smallest weight × ((1 − m) × L + m × S)

L (lexical) is the weighted share of the query's words found in the mentor's
headline, expertise (labels + synonyms) or bio: each word counts once, in its
best field.  S (semantic) is `meaning.relevance` of the cosine between the
need's vector and the mentor's profile vector: 0 up to SIMILARITY_FLOOR, 1 from
SIMILARITY_FULL.  The need is the search text, or, without one, the goals of
the searcher's mentee profile.  m = SEMANTIC_SHARE when the search has both
words and a need, 1 when it has only a need (goals), 0 when it has no vector.
Both parts are bounded by construction instead of normalising BM25 or raw
cosines, which differ between engines and queries.  The load nudge favours
mentors with fewer pending and active mentees, in five steps (see
`profiles.load_level`).  Ties are broken by member id, ascending.

A search without text and without a need (criteria only) is scored exactly as
before meaning existed.

Every part is a dyadic fraction (weights in 1/64ths, text and nudge boosts in
1/4096ths), so the engines' float32 sums are exact whatever order they add in:
equal matches give bit-identical scores on every engine and in Python.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from connect.errors import Invalid
from schemas import taxonomy
from services.matching.domain import meaning as meanings
from services.matching.domain.profiles import normalise_tag

TEXT_SHARE = 0.5
# The share of text relevance that meaning takes when a search has words too (the rest is
# the words found); chosen on the judged set in bench/data (see meaning.SIMILARITY_FLOOR).
SEMANTIC_SHARE = 0.5
NUDGE_SHARE = 0.1
MAX_LOAD_LEVEL = 4
MAX_WEIGHT = 100.0
MAX_TEXT_LENGTH = 500
MAX_QUERY_TERMS = 16
MAX_PAGE_SIZE = 100
# How deep a search pages (Elasticsearch's default result window): past this many results a
# search gives no next cursor (narrow it instead). It also bounds what a cursor can ask an engine
# to fetch: at most (depth + page + 1) * 4 hits.
MAX_SEARCH_DEPTH = 10_000
# Above any score a search can give (criteria weights sum to at most 10 x MAX_WEIGHT).
_MAX_SCORE = 1e6
WEIGHT_STEP = 1 / 64
BOOST_STEP = 1 / 4096


def _steps(value: float, step: float) -> float:
    """`value` rounded down to a multiple of `step` (keeps bounds bounded)."""
    return math.floor(value / step) * step

# field -> factor of a query word found there (the best field counts).
TEXT_FIELDS = {"headline": 1.0, "expertise_text": 1.0, "bio": 0.6}

# Lucene's English stop words: dropped from the query here, so no engine's
# analyzer has to agree with another's on them.
STOP_WORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there "
    "these they this to was will with i me my we our you your".split()
)


@dataclass(frozen=True)
class CriterionSpec:
    name: str
    index_field: str
    vocabulary: str | None  # taxonomy vocabulary, or None for free tags / numbers
    default_weight: float
    numeric_min: bool = False  # "at least N" instead of "any of these values"


CRITERIA: dict[str, CriterionSpec] = {spec.name: spec for spec in (
    CriterionSpec("expertise", "expertise", "expertise", 3.0),
    CriterionSpec("sectors", "sectors", "sectors", 2.0),
    CriterionSpec("career_stage", "career_stage", "career_stages", 1.0),
    CriterionSpec("region", "region", "regions", 1.5),
    CriterionSpec("country", "country", None, 1.0),
    CriterionSpec("languages", "languages", "languages", 1.0),
    CriterionSpec("interaction_modes", "interaction_modes", "interaction_modes", 1.0),
    CriterionSpec("qualifications", "qualifications", "qualifications", 1.0),
    CriterionSpec("years_experience", "years_experience", None, 1.0, numeric_min=True),
    CriterionSpec("interests", "interests", None, 1.0),
)}
# `location.region` is how profiles spell it; accept it in searches too.
ALIASES = {"location.region": "region", "location.country": "country"}


class InvalidSearch(Invalid):
    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__(errors)


@dataclass(frozen=True)
class Criterion:
    name: str
    index_field: str
    values: tuple[str, ...] = ()
    minimum: int | None = None
    weight: float = 1.0

    def met_by(self, doc: dict[str, Any]) -> list[Any] | None:
        """The values of `doc` that meet this criterion, or None when it is not met."""
        if self.minimum is not None:
            years = doc.get(self.index_field) or 0
            return [years] if years >= self.minimum else None
        have = doc.get(self.index_field) or []
        shared = [v for v in self.values if v in have]
        return shared or None


@dataclass(frozen=True)
class TextClause:
    term: str
    field: str
    boost: float


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after `returned` results, the last at (score, member id).

    The API seals it (connect/cursors.py); whatever comes back is checked here again, so no
    number from outside reaches an engine unbounded."""

    returned: int
    after: tuple[float, str]

    def __post_init__(self) -> None:
        score, member_id = self.after
        if isinstance(self.returned, bool) or not isinstance(self.returned, int) \
                or not 0 < self.returned < MAX_SEARCH_DEPTH:
            raise ValueError(f"a search pages at most {MAX_SEARCH_DEPTH} results deep")
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score) \
                or not 0 <= score <= _MAX_SCORE:
            raise ValueError("holds no score a search gives")
        if not isinstance(member_id, str) or not 0 < len(member_id) <= 64:
            raise ValueError("holds no member id")

    def values(self) -> dict[str, Any]:
        return {"n": self.returned, "s": self.after[0], "m": self.after[1]}

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> "Cursor":
        """The cursor `values()` described; ValueError for anything else."""
        if set(values) != {"n", "s", "m"}:
            raise ValueError("is not a search cursor")
        return cls(values["n"], (values["s"], values["m"]))


@dataclass(frozen=True)
class Meaning:
    """The need as a vector: the search text's, or the searcher's mentee goals'."""

    vector: np.ndarray = field(compare=False)  # int8, `meanings.quantise`d
    source: str = "text"  # "text" or "mentee_goals"
    model_id: str = ""

    @property
    def squared_norm(self) -> float:
        return float(meanings.squared_norms(self.vector)[0])

    def fingerprint(self) -> str:
        return hashlib.sha256(self.model_id.encode() + self.vector.tobytes()).hexdigest()[:16]


@dataclass(frozen=True)
class SearchQuery:
    """A search as every engine must evaluate it."""

    text_terms: tuple[str, ...] = ()
    criteria: tuple[Criterion, ...] = ()
    filters: tuple[Criterion, ...] = ()  # hard filters: must hold, add nothing to the score
    exclude_ids: tuple[str, ...] = ()
    size: int = 20
    cursor: Cursor | None = None
    fingerprint: str = ""
    meaning: Meaning | None = None

    def continued(self, cursor: Cursor) -> "SearchQuery":
        """This search, from where `cursor` left off."""
        return replace(self, cursor=cursor)

    def next_cursor(self, shown: int, last: tuple[float, str]) -> Cursor | None:
        """Where the page after one of `shown` results (the last at `last`) starts; None once
        the search is as deep as it may go."""
        returned = (self.cursor.returned if self.cursor else 0) + shown
        return Cursor(returned, last) if returned < MAX_SEARCH_DEPTH else None

    @property
    def smallest_weight(self) -> float:
        return min((c.weight for c in self.criteria), default=1.0)

    @property
    def text_max(self) -> float:
        return TEXT_SHARE * self.smallest_weight

    @property
    def semantic_share(self) -> float:
        if self.meaning is None:
            return 0.0
        return SEMANTIC_SHARE if self.text_terms else 1.0

    @property
    def lexical_max(self) -> float:
        """The most the words found can add."""
        return self.text_max * (1.0 - self.semantic_share)

    @property
    def semantic_max(self) -> float:
        """The most meaning can add."""
        return self.text_max * self.semantic_share

    @property
    def scored(self) -> bool:
        """Whether a mentor must meet a criterion, share a word or be near in meaning to be listed."""
        return bool(self.criteria or self.text_terms or self.meaning is not None)

    def semantic_bonus(self, cosines: np.ndarray) -> np.ndarray:
        """What meaning adds to each mentor's score, from the cosine of its profile vector with
        the need: a multiple of BOOST_STEP, so sums stay exact (see the module docstring)."""
        if self.meaning is None:
            return np.zeros(np.shape(cosines))
        steps = np.floor(self.semantic_max * meanings.relevance(cosines) / BOOST_STEP)
        return steps * BOOST_STEP

    def text_clauses(self) -> list[list[TextClause]]:
        """Per query word, its clause in each text field; a word scores its best field only."""
        if not self.text_terms:
            return []
        per_word = self.lexical_max / len(self.text_terms)
        return [[TextClause(term, name, _steps(per_word * factor, BOOST_STEP))
                 for name, factor in TEXT_FIELDS.items()]
                for term in self.text_terms]

    def nudge(self, level: int) -> float:
        """The score bonus of a mentor at this load level (0 idle .. 4 busy)."""
        return _steps(NUDGE_SHARE * self.smallest_weight * (MAX_LOAD_LEVEL - level) / MAX_LOAD_LEVEL, BOOST_STEP)

    @property
    def total_weight(self) -> float:
        return sum(c.weight for c in self.criteria)

    def matched(self, doc: dict[str, Any]) -> list[dict[str, Any]]:
        met = []
        for criterion in self.criteria:
            values = criterion.met_by(doc)
            if values is not None:
                met.append({"criterion": criterion.name, "values": values, "weight": criterion.weight})
        return met

    def match_percent(self, matched: list[dict[str, Any]], score: float, load_level: int) -> int:
        """Met weight over asked weight; without criteria, text relevance over its maximum
        ((1 − m) × share of words found + m × semantic relevance); the same on every engine."""
        if self.criteria:
            return round(100 * sum(m["weight"] for m in matched) / self.total_weight)
        if self.text_terms or self.meaning is not None:
            text_part = max(score - self.nudge(load_level), 0.0)
            return min(100, round(100 * text_part / self.text_max))
        return 100


def query_terms(text: str) -> tuple[str, ...]:
    words = re.findall(r"[0-9a-z]+", text.lower())
    seen: dict[str, None] = {}
    for word in words:
        if word not in STOP_WORDS and len(word) <= 40:
            seen.setdefault(word, None)
    return tuple(seen)[:MAX_QUERY_TERMS]


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _criterion(path: str, name: str, raw: Any, weight: float, errors: list[tuple[str, str]]) -> Criterion | None:
    canonical = ALIASES.get(name, name)
    spec = CRITERIA.get(canonical)
    if spec is None:
        errors.append((path, f"unknown criterion; one of {', '.join(sorted(CRITERIA))}"))
        return None
    if spec.numeric_min:
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= 70:
            errors.append((path, "must be a whole number of years between 0 and 70"))
            return None
        return Criterion(spec.name, spec.index_field, minimum=raw, weight=weight)
    values = _as_list(raw)
    if not values or len(values) > 50:
        errors.append((path, "give between 1 and 50 values"))
        return None
    clean: list[str] = []
    for i, value in enumerate(values):
        item_path = f"{path}.{i}" if isinstance(raw, (list, tuple)) else path
        if not isinstance(value, str) or not value.strip() or len(value) > 100:
            errors.append((item_path, "must be a non-empty string of at most 100 characters"))
            continue
        if spec.vocabulary is not None and value not in taxonomy.ids(spec.vocabulary):
            errors.append((item_path, f"{value!r} is not a known {spec.vocabulary} id (see GET /v1/taxonomy)"))
            continue
        if spec.name == "country":
            if not taxonomy.is_country(value):
                errors.append((item_path, f"{value!r} is not an ISO 3166-1 alpha-2 country code"))
                continue
            value = value.upper()
        elif spec.vocabulary is None:
            value = normalise_tag(value)
        if value not in clean:
            clean.append(value)
    return Criterion(spec.name, spec.index_field, values=tuple(clean), weight=weight)


def build_search(*, text: str | None = None, criteria: dict[str, Any] | None = None,
                 weights: dict[str, Any] | None = None, filters: dict[str, Any] | None = None,
                 size: int = 20, cursor: Cursor | None = None, searcher_id: str | None = None,
                 exclude_ids: list[str] | tuple[str, ...] = (), meaning: Meaning | None = None) -> SearchQuery:
    """Validate a search request and build its query; raises InvalidSearch with field paths."""
    errors: list[tuple[str, str]] = []
    criteria = criteria or {}
    weights = weights or {}
    filters = filters or {}
    if text is not None and len(text) > MAX_TEXT_LENGTH:
        errors.append(("text", f"at most {MAX_TEXT_LENGTH} characters"))
    if not 1 <= size <= MAX_PAGE_SIZE:
        errors.append(("page.size", f"must be between 1 and {MAX_PAGE_SIZE}"))
    resolved_weights: dict[str, float] = {}
    for name, weight in weights.items():
        canonical = ALIASES.get(name, name)
        if canonical not in CRITERIA:
            errors.append((f"weights.{name}", "unknown criterion"))
        elif isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
            errors.append((f"weights.{name}", "must be a number"))
        elif not 0 < weight <= MAX_WEIGHT:
            errors.append((f"weights.{name}", f"must be greater than 0 and at most {MAX_WEIGHT:g}"))
        else:
            resolved_weights[canonical] = max(WEIGHT_STEP, round(weight / WEIGHT_STEP) * WEIGHT_STEP)
    built: list[Criterion] = []
    for name, raw in criteria.items():
        canonical = ALIASES.get(name, name)
        weight = resolved_weights.get(canonical, CRITERIA[canonical].default_weight if canonical in CRITERIA else 1)
        made = _criterion(f"criteria.{name}", name, raw, weight, errors)
        if made is not None:
            if any(c.name == made.name for c in built):
                errors.append((f"criteria.{name}", "given twice"))
            built.append(made)
    hard: list[Criterion] = []
    for name, raw in filters.items():
        made = _criterion(f"filters.{name}", name, raw, 0.0, errors)
        if made is not None:
            hard.append(made)
    terms = query_terms(text or "")
    excluded = tuple(sorted({*exclude_ids, *([searcher_id] if searcher_id else [])}))
    parts: list[Any] = [terms, [(c.name, c.values, c.minimum, c.weight) for c in built],
                        [(c.name, c.values, c.minimum) for c in hard], excluded]
    if meaning is not None:  # criteria-only searches keep the fingerprints (and cursors) they had
        parts.append([meaning.source, meaning.fingerprint()])
    fingerprint = hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]
    if errors:
        raise InvalidSearch(errors)
    return SearchQuery(text_terms=terms, criteria=tuple(built), filters=tuple(hard), exclude_ids=excluded,
                       size=size, cursor=cursor, fingerprint=fingerprint, meaning=meaning)


@dataclass
class SearchHit:
    member_id: str
    score: float
    doc: dict[str, Any]
    sort: tuple[float, str] = field(default=(0.0, ""))
    # Cosine of the mentor's profile vector with the need (None: the search had no need).
    similarity: float | None = None


@dataclass
class SearchPage:
    hits: list[SearchHit]
    total: int
    next_cursor: Cursor | None
