"""The one text analysis of every search engine: tantivy's `en_stem`.

tantivy analyses the embedded index's text fields itself (its built-in `en_stem`: split on
non-alphanumerics, drop tokens of 40 bytes or more, lowercase, rust-stemmers' English).
The clusters' own Snowball English (Lucene's) stems some words otherwise ("evenings" ->
"even", "internal" -> "intern"; tantivy keeps "evening" and "internal"), so a cluster left to
analyse would list mentors the embedded engine does not.  Instead the clusters are sent the
tokens this analyzer makes, joined by spaces, into fields that only split on whitespace, and
each query word is analysed here too: the same tokens on every engine, by construction.

`ANALYSIS_VERSION` is written into a cluster index's `_meta`; an index of an earlier version
(made when the cluster stemmed) is searched as it was made until it is rebuilt.
"""

from __future__ import annotations

import functools
from typing import Any

import tantivy

from schemas import taxonomy

# 1 (no `_meta` entry): the cluster analysed with its own Snowball English; 2: tantivy's tokens.
ANALYSIS_VERSION = 2
# The searched text fields of an index document (`profiles.index_document`).
TEXT_FIELDS = ("headline", "bio", "expertise_text")


@functools.cache
def text_analyzer() -> tantivy.TextAnalyzer:
    """tantivy's `en_stem`, built on first use (not at import)."""
    return (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(tantivy.Filter.remove_long(40))
            .filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.stemmer("english"))
            .build())


def tokens(text: str) -> list[str]:
    return text_analyzer().analyze(text) if text else []


def query_token(word: str) -> str | None:
    """The token of one query word (a run of [0-9a-z], which the analyzer keeps whole), or
    None when the analyzer drops it."""
    found = tokens(word)
    return found[0] if found else None


def analysed_text(text: str) -> str:
    """`text` as its tokens joined by spaces (tokens hold no whitespace: the tokenizer keeps
    only alphanumerics), for a field that splits on whitespace and nothing more."""
    return " ".join(tokens(text))


def with_profile_text(stored: dict[str, Any]) -> dict[str, Any]:
    """An index document's text fields, as shown, again from its `profile` (an index keeps
    only what it searches of them)."""
    profile = stored["profile"]
    stored["headline"] = profile.get("headline") or ""
    stored["bio"] = profile.get("bio") or ""
    stored["expertise_text"] = taxonomy.expertise_text(stored.get("expertise") or [])
    return stored
