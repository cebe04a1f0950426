"""Meaning: what of a mentor profile is embedded, how two vectors compare, and how a
similarity becomes a bounded part of the score (`search.SearchQuery.semantic_bonus`).

A profile is cut into *passages*: the headline, the expertise labels as one line, and
each sentence of the bio.  Every passage is embedded once (cached by the hash of its
text); the profile's vector is the normalised mean of its passages' vectors, and the
passage closest to a need is the explanation shown beside a result.

Vectors are compared as int8: each is scaled so its largest component is ±127 and
rounded.  The cosine of two int8 vectors is exact integer arithmetic, so every engine
that stores the same int8 vector (the embedded scan, Elasticsearch `dense_vector` with
`element_type: byte`, a Python rescoring) computes the same similarity for the same pair;
next to the model's float vectors the rounding moves a cosine by about 0.002.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Callable, Iterable

import numpy as np

from schemas import taxonomy

# Similarities at or below FLOOR add nothing; from FULL up a profile says what the need says.
# Measured with all-MiniLM-L6-v2 on the judged set in bench/data: between a need and the
# profile vectors of mentors of its topic the median cosine is 0.27 (a quarter below 0.20),
# of unrelated mentors 0.20.  `python -m bench.matching_variants` compares these with other
# floors, ceilings, shares and with the best passage(s) instead of the profile vector, chosen
# on one half of the judged needs and checked on the other: none was clearly better on the
# held-out half (docs/matching.md, "Measured: meaning").
SIMILARITY_FLOOR = 0.1
SIMILARITY_FULL = 0.5
# Mentors that meet no criterion and share no word are listed when they are among this many
# nearest in meaning (and above the floor): a paraphrased need finds them, a page of
# unrelated mentors does not follow.
SEMANTIC_CANDIDATES = 100
MAX_PASSAGES = 16
MAX_PASSAGE_CHARS = 400
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def has_meaning(text: str | None) -> bool:
    """Whether a text has anything to embed: at least one letter or digit of any script
    (emoji, punctuation and blanks alone carry no need)."""
    return bool(text) and re.search(r"[^\W_]", text) is not None  # type: ignore[arg-type]


def passages(headline: str, bio: str, expertise: Iterable[str]) -> list[str]:
    """The texts of a mentor profile that are embedded, in profile order, without repeats."""
    labels = [taxonomy.label("expertise", term_id) for term_id in expertise]
    found = [headline.strip()]
    if labels:
        found.append("Expertise: " + ", ".join(labels))
    found += [part.strip() for part in _SENTENCE_END.split(bio or "")]
    out: list[str] = []
    for text in found:
        text = text[:MAX_PASSAGE_CHARS]
        if has_meaning(text) and text not in out:
            out.append(text)
    return out[:MAX_PASSAGES]


def doc_passages(doc: dict[str, Any]) -> list[str]:
    """The passages of an index document (`profiles.index_document`)."""
    return passages(doc.get("headline", ""), doc.get("bio", ""), doc.get("expertise") or [])


def attach_vectors(docs: list[dict[str, Any]],
                   vectors_of: Callable[[list[str]], dict[str, np.ndarray]]) -> list[dict[str, Any]]:
    """Set each index document's `vector` (int8 profile vector, None without passages), given
    the int8 vectors of passages (`vectors_of(texts)` -> {text: vector})."""
    texts = [doc_passages(doc) for doc in docs]
    vectors = vectors_of([t for ts in texts for t in ts])
    for doc, passages_of_doc in zip(docs, texts):
        doc["vector"] = (profile_vector(np.stack([vectors[t] for t in passages_of_doc]))
                         if passages_of_doc else None)
    return docs


def text_hash(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def quantise(vectors: np.ndarray) -> np.ndarray:
    """int8 rows, each scaled so its largest component is ±127 (a zero row stays zero)."""
    rows = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    peaks = np.abs(rows).max(axis=1, keepdims=True)
    scaled = np.divide(rows * 127.0, peaks, out=np.zeros_like(rows), where=peaks > 0)
    return np.clip(np.rint(scaled), -127, 127).astype(np.int8)


def unit_rows(int8_rows: np.ndarray) -> np.ndarray:
    rows = np.atleast_2d(int8_rows).astype(np.float64)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


def profile_vector(passage_vectors: np.ndarray) -> np.ndarray:
    """The profile's int8 vector: the normalised mean of its passages' (int8) vectors."""
    if len(passage_vectors) == 0:
        return np.zeros(np.shape(passage_vectors)[-1] if np.ndim(passage_vectors) == 2 else 0, dtype=np.int8)
    return quantise(unit_rows(passage_vectors).mean(axis=0))[0]


def squared_norms(int8_rows: np.ndarray) -> np.ndarray:
    rows = np.atleast_2d(int8_rows).astype(np.int64)
    return (rows * rows).sum(axis=1).astype(np.float64)


def cosines_from_dots(dots: np.ndarray, row_squared_norms: np.ndarray, query_squared_norm: float) -> np.ndarray:
    """Cosines from exact integer dot products: every engine that scans int8 vectors its own way
    finishes here, so the same pair gives the same float everywhere (0 for zero vectors)."""
    norms = np.sqrt(row_squared_norms) * np.sqrt(query_squared_norm)
    return np.divide(np.asarray(dots, dtype=np.float64), norms, out=np.zeros(len(norms)), where=norms > 0)


def cosines(int8_rows: np.ndarray, int8_query: np.ndarray) -> np.ndarray:
    """Cosine of each int8 row with the int8 query (the reference every scan must equal)."""
    rows = np.atleast_2d(int8_rows).astype(np.int64)
    query = np.asarray(int8_query, dtype=np.int64)
    return cosines_from_dots(rows @ query, squared_norms(rows), float(query @ query))


def relevance(cosine: np.ndarray | float) -> np.ndarray:
    """0 at or below the floor, 1 at or above full similarity, linear between."""
    return np.clip((np.asarray(cosine, dtype=np.float64) - SIMILARITY_FLOOR)
                   / (SIMILARITY_FULL - SIMILARITY_FLOOR), 0.0, 1.0)


def closest(passage_texts: list[str], passage_vectors: np.ndarray,
            query: np.ndarray) -> tuple[str, float] | None:
    """The passage most similar to the need, and its cosine; None when none reaches the floor."""
    if not passage_texts:
        return None
    sims = cosines(passage_vectors, query)
    best = int(np.argmax(sims))
    if sims[best] < SIMILARITY_FLOOR:
        return None
    return passage_texts[best], float(sims[best])
