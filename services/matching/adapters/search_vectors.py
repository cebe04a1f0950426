"""The embedded engine's vector store: int8 profile vectors in an append-only file per index version.

Why a file and an exact scan rather than an ANN graph (usearch, hnswlib): the index is
written by one process and searched by several (`connect serve --workers N`), a profile
change must be searchable within a second everywhere, and the hybrid score needs the
similarity of every mentor a query lists, not only of an approximate neighbourhood.  An
append-only file gives all three: the writer appends a row before it commits the document
that names it, readers read the rows they have not seen, and a scan of 100k × 384 int8
rows with numkong's SIMD kernels takes a few milliseconds (bench/results/matching_semantic.json)
while an HNSW graph of the same rows took minutes to build here and must be saved whole.
Memory: one byte per dimension per written row (100k mentors × 384 = 37 MiB) plus 8 bytes
of squared norm per row.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numkong
import numpy as np

from services.matching.domain import meaning
from services.matching.domain.search import Meaning

SPACE_FILE = "vectors.json"
ROWS_FILE = "vectors.i8"


@dataclass(frozen=True)
class VectorSpace:
    """Which model's vectors a version holds, and their length."""

    model_id: str
    dimensions: int

    def save(self, folder: Path) -> None:
        (folder / SPACE_FILE).write_text(json.dumps({"model": self.model_id, "dimensions": self.dimensions}))

    @classmethod
    def load(cls, folder: Path) -> "VectorSpace | None":
        """None for a version made before vectors existed."""
        try:
            data = json.loads((folder / SPACE_FILE).read_text())
        except FileNotFoundError:
            return None
        return cls(str(data["model"]), int(data["dimensions"]))


class VectorFile:
    """The writer's side: appends rows, returns the 1-based row number of the first."""

    def __init__(self, folder: Path, space: VectorSpace) -> None:
        self.path = folder / ROWS_FILE
        self.dimensions = space.dimensions
        self._lock = threading.Lock()

    def append(self, rows: np.ndarray) -> int:
        rows = np.ascontiguousarray(rows, dtype=np.int8).reshape(-1, self.dimensions)
        with self._lock, self.path.open("ab") as handle:
            first = handle.tell() // self.dimensions + 1
            handle.write(rows.tobytes())
            handle.flush()
            os.fsync(handle.fileno())  # before the tantivy commit that names these rows
        return first


class VectorMatrix:
    """A reader's copy of a version's rows, grown as documents name newer rows."""

    def __init__(self, folder: Path, space: VectorSpace) -> None:
        self.path = folder / ROWS_FILE
        self.space = space
        self.dimensions = space.dimensions
        self._rows = np.zeros((0, self.dimensions), dtype=np.int8)
        self._squared = np.zeros(0, dtype=np.float64)
        self._count = 0
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        return int(self._rows[:self._count].nbytes + self._squared[:self._count].nbytes)

    def _snapshot(self, needed: int) -> tuple[np.ndarray, np.ndarray]:
        """The first `needed` rows (at least) and their squared norms, read from the file if new."""
        if needed > self._count:
            with self._lock:
                if needed > self._count:
                    self._read_more()
        count = self._count
        return self._rows[:count], self._squared[:count]

    def _read_more(self) -> None:
        size = self.path.stat().st_size if self.path.exists() else 0
        total = size // self.dimensions
        if total <= self._count:
            return
        with self.path.open("rb") as handle:
            handle.seek(self._count * self.dimensions)
            fresh = np.frombuffer(handle.read((total - self._count) * self.dimensions), dtype=np.int8)
        fresh = fresh.reshape(-1, self.dimensions)
        if total > len(self._rows):  # grow with room, so appends one at a time stay cheap
            capacity = max(total, len(self._rows) * 2, 1024)
            rows = np.zeros((capacity, self.dimensions), dtype=np.int8)
            squared = np.zeros(capacity, dtype=np.float64)
            rows[:self._count] = self._rows[:self._count]
            squared[:self._count] = self._squared[:self._count]
            self._rows, self._squared = rows, squared
        # Rows past the old count are only read once `_count` covers them (readers slice first).
        self._rows[self._count:total] = fresh
        self._squared[self._count:total] = meaning.squared_norms(fresh)
        self._count = total

    def cosines(self, need: Meaning, needed: int) -> np.ndarray:
        """Cosine of every row (index = row number − 1) with the need, exactly as
        `meaning.cosines` computes it."""
        rows, squared = self._snapshot(needed)
        if not len(rows):
            return np.zeros(0)
        dots = np.asarray(numkong.cdist(rows, need.vector[None, :], metric="dot", threads=2)).ravel()
        return meaning.cosines_from_dots(dots, squared, need.squared_norm)
