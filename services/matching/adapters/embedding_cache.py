"""Passage vectors by model and text hash (`matching_embeddings`): each text is embedded once.

The indexer asks for the vectors of every passage of the profiles it writes: the cached
ones are read, the rest embedded in batches and stored.  Search explanations read the
page's passages from here too (and embed, without storing, any a concurrent prune took).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime
from typing import Any, Iterable

import numpy as np
from sqlalchemy import bindparam, delete, select, text, tuple_

from connect.clock import Clock
from connect.db import Database
from services.matching.adapters import orm
from services.matching.domain import meaning
from services.matching.interfaces import Embedder

LOOKUP_CHUNK = 500
MEMORY = 50_000  # vectors kept in memory for explanations (popular mentors' passages): ~20 MiB
table = orm.embeddings
# Built once: a statement built per call cost more than the read on SQLite.
_CACHED = select(table.c.text_hash, table.c.vector).where(
    table.c.model == bindparam("model"), table.c.text_hash.in_(bindparam("hashes", expanding=True)))


class PassageVectors:
    def __init__(self, database: Database, embedder: Embedder, clock: Clock) -> None:
        self.database = database
        self.embedder = embedder
        self.clock = clock
        self.embedded = 0  # texts embedded by this process (the reindex reports it)
        self._memory: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._memory_lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    def cached(self, conn: Any, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """The stored int8 vectors of these texts (those the cache holds)."""
        by_hash = {meaning.text_hash(t): t for t in texts}
        found: dict[str, np.ndarray] = {}
        hashes = list(by_hash)
        for start in range(0, len(hashes), LOOKUP_CHUNK):
            rows = conn.execute(_CACHED, {"model": self.model_id, "hashes": hashes[start:start + LOOKUP_CHUNK]})
            for text_hash, vector in rows:
                found[by_hash[bytes(text_hash)]] = np.frombuffer(vector, dtype=np.int8)
        return found

    def remembered(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Vectors for search explanations: from memory, else as `vectors` (without storing),
        remembered for the next page that shows the same mentors."""
        hashes = {t: meaning.text_hash(t) for t in texts}
        with self._memory_lock:
            found = {t: self._memory[h] for t, h in hashes.items() if h in self._memory}
        missing = [t for t in texts if t not in found]
        if missing:
            fetched = self.vectors(missing, store=False)
            found.update(fetched)
            with self._memory_lock:
                for t, vector in fetched.items():
                    self._memory[hashes[t]] = vector
                while len(self._memory) > MEMORY:
                    self._memory.popitem(last=False)
        return found

    def vectors(self, texts: Iterable[str], *, store: bool = True) -> dict[str, np.ndarray]:
        """int8 vectors of every text: from the cache, else embedded (and stored when `store`)."""
        wanted = list(dict.fromkeys(texts))
        with self.database.read_connection() as conn:
            found = self.cached(conn, wanted)
        missing = [t for t in wanted if t not in found]
        if missing:
            fresh = meaning.quantise(self.embedder.embed(missing))
            self.embedded += len(missing)
            found.update(zip(missing, fresh))
            if store:
                self._store([(t, found[t]) for t in missing])
        return found

    def _store(self, pairs: list[tuple[str, np.ndarray]]) -> None:
        now = self.clock.now()
        rows = [{"model": self.model_id, "text_hash": meaning.text_hash(t), "vector": v.tobytes(), "created_at": now}
                for t, v in pairs]
        if self.database.is_sqlite:
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
        # Another writer (the indexer during a reindex) may store the same text: same vector.
        statement = insert(table).on_conflict_do_nothing(index_elements=["model", "text_hash"])
        with self.database.session() as session, session.begin():
            session.execute(statement, rows)

    def prune(self, keep: set[bytes], before: datetime) -> int:
        """Drop vectors no listed profile uses (other models' too), older than `before` (so what a
        concurrent indexer stored meanwhile stays).  Returns how many rows went."""
        dropped = 0
        with self.database.session() as session, session.begin():
            if self.database.is_sqlite:
                # An erased member's passages go here: zero their cells, as erasure does.
                session.execute(text("PRAGMA secure_delete=ON"))
            stale = [(model, bytes(text_hash)) for model, text_hash in session.execute(
                select(table.c.model, table.c.text_hash).where(table.c.created_at < before))
                if model != self.model_id or bytes(text_hash) not in keep]
            for start in range(0, len(stale), LOOKUP_CHUNK):
                chunk = stale[start:start + LOOKUP_CHUNK]
                dropped += session.execute(delete(table).where(
                    tuple_(table.c.model, table.c.text_hash).in_(chunk))).rowcount
        return dropped

