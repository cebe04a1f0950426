"""The matching service's ports."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Protocol, Sequence

import numpy as np

from connect.errors import Unavailable
from connect.events import DependencyUnavailable
from services.matching.domain.search import SearchPage, SearchQuery


class IndexBuild(Protocol):
    """A new, versioned index being filled; `swap` points the alias at it."""

    name: str

    def add(self, docs: Iterable[dict[str, Any]]) -> int: ...

    def delete(self, member_ids: Iterable[str]) -> None: ...

    def swap(self, started_at: datetime) -> None:
        """Make this index the one searches and updates use, then drop older versions."""

    def abort(self) -> None: ...


class SearchIndex(Protocol):
    """The mentor index: derived from the database, rebuildable at any time.

    It holds listed mentors only (active and available); documents are the
    dicts `domain.profiles.index_document` builds.
    """

    # True when a search only computes over files in this process and never waits on a server.
    in_process: bool

    def ensure(self) -> None:
        """Create the first versioned index and its alias when none exists."""

    def upsert(self, docs: Iterable[dict[str, Any]]) -> None: ...

    def delete(self, member_ids: Iterable[str]) -> None: ...

    def search(self, query: SearchQuery) -> SearchPage: ...

    def begin_build(self) -> IndexBuild: ...

    def count(self) -> int: ...

    def ping(self) -> None:
        """Raise when the index cannot serve searches (ready check)."""

    def close(self) -> None: ...


class SearchUnavailable(Unavailable, DependencyUnavailable):
    """The search engine did not answer (`reason` says how).  The API answers 503 and tells
    clients to retry shortly; the indexer waits for it to answer again (an outage never
    dead-letters a change)."""

    code = "search-unavailable"

    def __init__(self, reason: str) -> None:
        super().__init__("Search is unavailable right now; try again shortly.", retry_after_seconds=5)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.detail} ({self.reason})"


class Embedder(Protocol):
    """Turns texts into sentence vectors: what "meaning" is to matching.

    One implementation serves both shapes (`adapters/embedder_onnx.py`, a model run on the
    CPU in process), like the clock; unit tests of domain rules may use a deterministic fake."""

    # Names the vector space: the embedding cache and each index version are keyed by it,
    # so vectors of two models are never compared.
    model_id: str
    dimensions: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised float32 row per text, in order; an empty text gives a zero row."""


class EmbeddingModelError(Exception):
    """The configured embedding model cannot be found or loaded (raised at start-up)."""
