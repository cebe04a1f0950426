"""Criteria columns: mentor search without the engine, for the queries they answer exactly.

tantivy scored ~100k documents per benchmark query: one criterion (`languages: en`)
matches almost every mentor, and constant-score clauses give it nothing to prune with.
A query made only of taxonomy criteria and a years minimum needs, per mentor, nothing
but the taxonomy values it holds, its years, load level and id key.  Held as numpy
arrays (the values as bitmasks, from fast fields) the whole search is a few vectorised
passes, and only the page's documents are read from the store.

The bit of each value is fixed when an index version is created and saved with it
(`BitLayout`), so a later taxonomy change cannot shift bits under an existing index: a
query value the saved layout does not know goes to the engine.  Versions made before
the layout existed have neither the file nor the fields and always use the engine.

Results equal the engine path's bit for bit: every part of a score is a dyadic fraction
(see `domain.search`), so these float64 sums equal tantivy's float32 sums plus the nudge.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np
import tantivy

from schemas import taxonomy
from services.matching.domain.search import (CRITERIA, MAX_LOAD_LEVEL, MAX_WEIGHT, WEIGHT_STEP, Criterion, Cursor,
                                             SearchQuery)

LAYOUT_FILE = "criteria-bits.json"
WORD_BITS = 64
_WORD = (1 << WORD_BITS) - 1
YEARS_FIELD = "years_experience"
_MAX_UNITS = np.iinfo(np.uint16).max  # base scores in weight steps, plus one for "listed"
T = TypeVar("T")
# Rows of query words kept per generation (`Columns.term_rows`): 8 bytes each, 32 MiB at most.
TERM_ROWS_KEPT = 4_000_000


def id_key(member_id: str) -> int:
    return int.from_bytes(member_id.encode()[:8].ljust(8, b"\0"), "big")


def by_full_id_where_keys_tie(ranked: list[T], score_and_key: Callable[[T], tuple[float, int]],
                              member_id: Callable[[T], str]) -> list[T]:
    """`ranked` (by score desc, id key) with each run of equal score and key ordered by the full
    member id: ids longer than 8 bytes may share a key, and only those few are read."""
    out: list[T] = []
    for _tie, run in itertools.groupby(ranked, key=score_and_key):
        hits = list(run)
        out += sorted(hits, key=member_id) if len(hits) > 1 else hits
    return out


class BitLayout:
    """Which bit of which `<field>__bits<k>` fast field stands for each taxonomy value of an index version."""

    def __init__(self, values: dict[str, list[str]]) -> None:
        self.values = values
        # The value's bit as a number: documents are masked with one dict lookup per value.
        self.bit_of = {name: {value: 1 << i for i, value in enumerate(known)} for name, known in values.items()}
        self.fields = {name: [f"{name}__bits{k}" for k in range(max(1, -(-len(known) // WORD_BITS)))]
                       for name, known in values.items()}
        self._plan = [(name, self.fields[name], self.bit_of[name]) for name in values]

    @staticmethod
    @functools.cache
    def current() -> "BitLayout":
        """The layout a version created now gets: the taxonomy's values in its order."""
        return BitLayout({spec.index_field: [term.id for term in taxonomy.VOCABULARIES[spec.vocabulary]]
                          for spec in CRITERIA.values() if spec.vocabulary is not None})

    @classmethod
    def load(cls, folder: Path) -> "BitLayout":
        try:
            return cls(json.loads((folder / LAYOUT_FILE).read_text()))
        except FileNotFoundError:
            return cls({})  # a version made before the columns: no bitmask fields

    def save(self, folder: Path) -> None:
        (folder / LAYOUT_FILE).write_text(json.dumps(self.values, separators=(",", ":")))

    def document_words(self, doc: dict[str, Any]) -> list[tuple[str, int]]:
        """Every bitmask field of an index document with its word; values outside the layout set no bit."""
        out = []
        for name, fields, bit_of in self._plan:
            mask = 0
            for value in doc.get(name) or ():
                mask |= bit_of.get(value, 0)
            if len(fields) == 1:
                out.append((fields[0], mask))
            else:
                out += [(field, mask >> (WORD_BITS * k) & _WORD) for k, field in enumerate(fields)]
        return out

    def answers(self, query: SearchQuery) -> bool:
        """Whether the columns give exactly the engine's answer to `query`."""
        if not self.values or query.text_terms:
            return False
        # Base scores are counted in whole weight steps (what `build_search` makes) in 16 bits,
        # and "met some criterion" is read as a base above 0.
        if any(not 0 < c.weight <= MAX_WEIGHT or not (c.weight / WEIGHT_STEP).is_integer() for c in query.criteria):
            return False
        if query.total_weight / WEIGHT_STEP >= _MAX_UNITS:
            return False
        for criterion in (*query.criteria, *query.filters):
            if criterion.minimum is not None:
                if criterion.index_field != YEARS_FIELD:
                    return False
                continue
            known = self.bit_of.get(criterion.index_field)
            if known is None or any(value not in known for value in criterion.values):
                return False
        return True


class Columns:
    """The criteria columns of one searcher generation.

    Immutable once built, so request threads share it without locks.  It keeps its
    searcher: the addresses, the columns and the documents read for a page must all
    come from the same generation."""

    def __init__(self, searcher: tantivy.Searcher, layout: BitLayout, generation: int,
                 schema: tantivy.Schema | None = None, vectors: bool = False) -> None:
        self.searcher = searcher
        self.schema = schema
        self.layout = layout
        self.generation = generation
        alive = searcher.num_docs
        self.addresses = ([address for _score, address in
                           searcher.search(tantivy.Query.all_query(), limit=alive, count=False).hits]
                          if alive else [])

        def column(name: str, dtype: type = np.uint64) -> np.ndarray:
            return np.array(searcher.fast_field_values(name, self.addresses), dtype=dtype)

        self.keys = column("id_key")
        self.years = column(YEARS_FIELD, np.int64)
        # Clipped as `_order` does, so the nudge is one table lookup.
        self.levels = np.minimum(column("load_level", np.int64), MAX_LOAD_LEVEL)
        # Each field's bits as byte planes (plane j = bits 8j..8j+7): a query value tests one
        # byte per mentor instead of a whole word, and the passes over them are most of a search.
        self.planes: dict[str, list[np.ndarray]] = {}
        for name, fields in layout.fields.items():
            words = [column(field) for field in fields]
            self.planes[name] = [((words[j // 8] >> np.uint64(8 * (j % 8))) & np.uint64(0xFF)).astype(np.uint8)
                                 for j in range(-(-len(layout.values[name]) // 8))]
        # Each row's 1-based row in the version's vector file (0: no vector).
        self.vector_rows = column("vector_row", np.int64) if vectors else np.zeros(len(self), dtype=np.int64)
        self.max_vector_row = int(self.vector_rows.max()) if len(self) else 0
        self._term_rows: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._term_row_count = 0
        self._term_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.addresses)

    def member_id(self, row: int) -> str:
        return self.searcher.doc(self.addresses[row]).get_first("member_id")

    def search(self, query: SearchQuery) -> tuple[list[tuple[float, Any]], int, bool]:
        """The page as (score, address), the total, and whether more follow the page.

        A mentor's rank is its base score in whole weight steps (16-bit integers, cheaper
        than floats), plus one when the query has no criteria, and 0 when it is not listed.
        Exact float scores, base + nudge, are made only for the few rows that can reach the
        page, as the engine path does with its fetched hits."""
        steps = [round(criterion.weight / WEIGHT_STEP) for criterion in query.criteria]
        ranks = np.zeros(len(self), dtype=np.uint16)
        for criterion, weight in zip(query.criteria, steps):
            ranks += self._met(criterion).view(np.uint8) * np.uint16(weight)
        offset = 0 if query.scored else 1  # every weight is > 0: met some criterion == rank > 0
        if offset:
            ranks += np.uint16(offset)
        for hard in query.filters:
            ranks *= self._met(hard)
        if query.exclude_ids:
            ranks[self._rows_of(query.exclude_ids)] = 0
        total = int(np.count_nonzero(ranks))
        nudges = np.array([query.nudge(level) for level in range(MAX_LOAD_LEVEL + 1)])
        # A base this many steps below another can still reach it with the largest nudge.
        reach = int(nudges.max() // WEIGHT_STEP)
        if query.cursor is not None:
            self._drop_up_to(query.cursor, ranks, offset, nudges, reach)
        remaining = int(np.count_nonzero(ranks))
        wanted = query.size + 1
        floor = 1
        if remaining > wanted:
            floor = max(1, _wanted_th_largest(ranks, _sums(steps, offset), wanted) - reach)
        rows = np.flatnonzero(ranks >= floor)
        finals = (ranks[rows] - offset) * WEIGHT_STEP + nudges[self.levels[rows]]
        page = self._top(rows, finals, wanted)[:query.size]
        return [(score, self.addresses[row]) for row, score in page], total, remaining > query.size

    # --- with a need (domain.meaning): every row's similarity is known -----------------------

    def similarities(self, by_vector_row: np.ndarray) -> np.ndarray:
        """Per row, the cosine of its vector (`by_vector_row[vector_row - 1]`; 0 without one)."""
        out = np.zeros(len(self))
        known = (self.vector_rows > 0) & (self.vector_rows <= len(by_vector_row))
        out[known] = by_vector_row[self.vector_rows[known] - 1]
        return out

    def nearest(self, sims: np.ndarray, eligible: np.ndarray, count: int) -> np.ndarray:
        """Mask of the `count` eligible rows most similar (ties: lower id key first)."""
        rows = np.flatnonzero(eligible)
        chosen = np.zeros(len(self), dtype=bool)
        if len(rows) > count:
            values = sims[rows]
            threshold = np.partition(values, len(rows) - count)[len(rows) - count]
            above, ties = rows[values > threshold], rows[values == threshold]
            room = count - len(above)
            rows = np.concatenate([above, ties[np.argsort(self.keys[ties], kind="stable")[:room]]])
        chosen[rows] = True
        return chosen

    def meets_all(self, filters: tuple[Criterion, ...]) -> np.ndarray:
        passing = np.ones(len(self), dtype=bool)
        for hard in filters:
            passing &= self._met(hard)
        return passing

    def rows_at(self, addresses: list[Any]) -> np.ndarray:
        """Mask of the rows at these addresses (of this generation's searcher)."""
        mask = np.zeros(len(self), dtype=bool)
        mask[self.row_numbers(addresses)] = True
        return mask

    def row_numbers(self, addresses: list[Any]) -> np.ndarray:
        """The row of each address (of this generation's searcher).  One fast-field read and one
        table lookup for documents with a vector (each names its own vector row); by segment and
        doc id for the others."""
        rows = np.full(len(addresses), -1, dtype=np.int64)
        if self.max_vector_row:
            vector_rows = np.array(self.searcher.fast_field_values("vector_row", addresses), dtype=np.int64)
            rows = self._row_of_vector_row[vector_rows]
        missing = np.flatnonzero(rows < 0)
        if len(missing):
            rows[missing] = self._rows_by_address([addresses[i] for i in missing])
        return rows

    def term_rows(self, field: str, token: str) -> np.ndarray:
        """The rows whose `field` holds the (analysed) `token`.  Kept for this generation, as
        Lucene's query cache keeps a filter's documents: a common word's rows cost one engine
        search (tens of thousands of hits) the first time, a lookup after."""
        key = (field, token)
        with self._term_lock:
            rows = self._term_rows.get(key)
            if rows is not None:
                self._term_rows.move_to_end(key)
                return rows
        assert self.schema is not None
        query = tantivy.Query.term_query(self.schema, field, token, index_option="freq")
        limit = max(1, min(self.searcher.doc_freq(field, token), self.searcher.num_docs)) + 1
        hits = self.searcher.search(query, limit=limit, count=False).hits
        rows = self.row_numbers([address for _score, address in hits])
        with self._term_lock:  # a race asks the engine twice, harmlessly
            if key not in self._term_rows:
                self._term_row_count += len(rows)
            self._term_rows[key] = rows
            while self._term_row_count > TERM_ROWS_KEPT and len(self._term_rows) > 1:
                _key, dropped = self._term_rows.popitem(last=False)
                self._term_row_count -= len(dropped)
        return rows

    @functools.cached_property
    def _row_of_vector_row(self) -> np.ndarray:
        """Vector row -> row (-1: none); a live document's vector row is its own."""
        table = np.full(self.max_vector_row + 1, -1, dtype=np.int64)
        with_vector = np.flatnonzero(self.vector_rows > 0)
        table[self.vector_rows[with_vector]] = with_vector
        return table

    def _rows_by_address(self, addresses: list[Any]) -> np.ndarray:
        segments = np.fromiter((a.segment_ord for a in addresses), dtype=np.int64, count=len(addresses))
        docs = np.fromiter((a.doc for a in addresses), dtype=np.int64, count=len(addresses))
        rows = np.empty(len(addresses), dtype=np.int64)
        for segment in np.unique(segments):
            here = segments == segment
            rows[here] = self._row_tables[int(segment)][docs[here]]
        return rows

    @functools.cached_property
    def _row_tables(self) -> dict[int, np.ndarray]:
        """Per segment, doc id -> row (-1: deleted).  Made on first use (a race makes it twice, harmlessly)."""
        segments = np.fromiter((a.segment_ord for a in self.addresses), dtype=np.int64, count=len(self))
        docs = np.fromiter((a.doc for a in self.addresses), dtype=np.int64, count=len(self))
        tables = {}
        for segment in np.unique(segments):
            here = np.flatnonzero(segments == segment)
            table = np.full(int(docs[here].max()) + 1, -1, dtype=np.int64)
            table[docs[here]] = here
            tables[int(segment)] = table
        return tables

    def rows_of(self, member_ids: tuple[str, ...]) -> list[int]:
        return self._rows_of(member_ids)

    def criteria_scores(self, query: SearchQuery) -> np.ndarray:
        """Per row, the sum of the weights of the criteria it meets (exact: weights are dyadic)."""
        base = np.zeros(len(self))
        for criterion in query.criteria:
            base += self._met(criterion) * criterion.weight
        return base

    def nudges(self, query: SearchQuery) -> np.ndarray:
        """Per row, the load nudge."""
        return np.array([query.nudge(level) for level in range(MAX_LOAD_LEVEL + 1)])[self.levels]

    def search_with_meaning(self, query: SearchQuery, bonus: np.ndarray, near: np.ndarray,
                            passing: np.ndarray, lexical: np.ndarray | None = None,
                            worded: np.ndarray | None = None) -> tuple[list[tuple[float, Any]], int, bool]:
        """`search` for a query with a need: listed rows meet a criterion, are `near`, or share a
        word (`worded`, with the words' part of their score in `lexical`); final = met weights +
        words + nudge + semantic bonus, every part exact."""
        base = self.criteria_scores(query)
        listed = ((base > 0) | near) & passing
        finals = base + self.nudges(query) + bonus
        if worded is not None and lexical is not None:
            listed |= worded & passing
            finals += lexical
        total = int(np.count_nonzero(listed))
        if query.cursor is not None:
            listed &= self.after(query.cursor, finals, listed)
        rows = np.flatnonzero(listed)
        page = self._top(rows, finals[rows], query.size + 1)[:query.size]
        return [(score, self.addresses[row]) for row, score in page], total, len(rows) > query.size

    def after(self, cursor: Cursor, finals: np.ndarray, among: np.ndarray) -> np.ndarray:
        """Mask of the rows `among` these that come after the cursor, by their final scores."""
        after_score, after_id = cursor.after
        key = np.uint64(id_key(after_id))
        tied = among & (finals == after_score)
        after = among & ((finals < after_score) | (tied & (self.keys > key)))
        for row in np.flatnonzero(tied & (self.keys == key)):
            after[row] = self.member_id(int(row)) > after_id
        return after

    def _met(self, criterion: Criterion) -> np.ndarray:
        if criterion.minimum is not None:
            return self.years >= criterion.minimum
        mask = sum(self.layout.bit_of[criterion.index_field][value] for value in set(criterion.values))
        met = np.zeros(len(self), dtype=bool)
        for j, plane in enumerate(self.planes[criterion.index_field]):
            byte = (mask >> (8 * j)) & 0xFF
            if byte:
                met |= (plane & np.uint8(byte)) != 0
        return met

    @functools.cached_property
    def _by_key(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows in id-key order and their keys: finding the excluded searcher is a binary search,
        not a pass over every key on every search. Made on first use (a race makes it twice, harmlessly)."""
        order = np.argsort(self.keys, kind="stable")
        return order, self.keys[order]

    def _rows_of(self, member_ids: tuple[str, ...]) -> list[int]:
        order, sorted_keys = self._by_key
        rows = []
        for member_id in set(member_ids):
            key = np.uint64(id_key(member_id))
            start = int(np.searchsorted(sorted_keys, key, side="left"))
            end = int(np.searchsorted(sorted_keys, key, side="right"))
            # The key may be shared by longer ids: confirm each candidate by its stored id.
            rows += [int(row) for row in order[start:end] if self.member_id(int(row)) == member_id]
        return rows

    def _drop_up_to(self, cursor: Cursor, ranks: np.ndarray, offset: int, nudges: np.ndarray, reach: int) -> None:
        """Unlist the rows up to the cursor's (score, member id) in (score desc, id key, member id) order.

        A base above the cursor's score is before it whatever the nudge, a base more than
        `reach` steps below is after it; only the rows in between need their exact score."""
        after_score, after_id = cursor.after
        highest = math.floor(after_score / WEIGHT_STEP) + offset
        ranks *= ranks <= highest
        rows = np.flatnonzero(ranks >= max(1, highest - reach))
        finals = (ranks[rows] - offset) * WEIGHT_STEP + nudges[self.levels[rows]]
        key = np.uint64(id_key(after_id))
        keys = self.keys[rows]
        tied = finals == after_score
        after = (finals < after_score) | (tied & (keys > key))
        for i in np.flatnonzero(tied & (keys == key)):
            after[i] = self.member_id(int(rows[i])) > after_id
        ranks[rows[~after]] = 0

    def _top(self, rows: np.ndarray, scores: np.ndarray, wanted: int) -> list[tuple[int, float]]:
        """The first `wanted` (row, score) by score desc, id key, member id; only they are sorted."""
        if len(rows) > wanted:
            threshold = np.partition(scores, len(rows) - wanted)[len(rows) - wanted]
            above = scores > threshold
            ties = np.flatnonzero(scores == threshold)
            room = wanted - int(np.count_nonzero(above))
            if len(ties) > room:
                # All ties up to the room-th smallest key: rows sharing that key are ordered by id below.
                tie_keys = self.keys[rows[ties]]
                ties = ties[tie_keys <= np.partition(tie_keys, room - 1)[room - 1]]
            chosen = np.concatenate([np.flatnonzero(above), ties])
            rows, scores = rows[chosen], scores[chosen]
        keys = self.keys[rows]
        order = np.lexsort((keys, -scores))
        rows, scores, keys = rows[order], scores[order], keys[order]
        ranked = [(int(row), float(score), int(key)) for row, score, key in zip(rows, scores, keys)]
        if np.any((scores[1:] == scores[:-1]) & (keys[1:] == keys[:-1])):
            ranked = by_full_id_where_keys_tie(ranked, lambda hit: (hit[1], hit[2]),
                                               lambda hit: self.member_id(hit[0]))
        return [(row, score) for row, score, _key in ranked[:wanted]]


def _sums(steps: list[int], offset: int) -> list[int]:
    """Every rank a listed mentor can have, ascending: the sums of subsets of the weights."""
    sums = {0}
    for weight in steps:
        sums |= {total + weight for total in sums}
    return sorted(total + offset for total in sums if total + offset > 0)


def _wanted_th_largest(ranks: np.ndarray, possible: list[int], wanted: int) -> int:
    """The `wanted`-th largest rank, by bisecting the few values a rank can take; a
    selection over 100k ranks with so many equal values cost several times more."""
    low, high = 0, len(possible) - 1  # count(ranks >= possible[low]) >= wanted holds throughout
    while low < high:
        middle = (low + high + 1) // 2
        if np.count_nonzero(ranks >= possible[middle]) >= wanted:
            low = middle
        else:
            high = middle - 1
    return possible[low]
