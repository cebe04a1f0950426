"""The embedded search engine: tantivy indexes on local disk under var/search.

Versioning works like an alias on a cluster: each build is a folder
`<alias>-v<timestamp>`, and `<alias>.json` names the current one.  Writing the
alias file (atomically, by rename) is the swap; every process notices it on its
next call by the file's mtime and reopens.  Only one process may write a tantivy
index, which in the embedded shape is the server (its indexer consumer); `connect
reindex` writes only the new folder, before the swap.

Scores follow `domain.search`: constant-score clauses summed by a boolean query,
so they equal the DSL engines' for the same matches.  tantivy orders ties by
document address, so the (score desc, member id asc) order and the search_after
cursor are applied here, over enough top hits to contain every tie at the page
boundary.  Queries made only of taxonomy criteria and a years minimum skip the engine:
`search_columns` answers them from numpy columns of the same generation, exactly.

Vectors live beside tantivy in the version folder: `vectors.i8` is an append-only file
of int8 profile vectors (one row per written document version) and each document's
`vector_row` fast field names its row (0: none).  Every process reads the file's new
rows into memory when a generation names them, and a search with a need scans all
rows exactly (numkong's int8 kernels: 100k × 384 in a few ms), so every mentor's
similarity is known, not just an approximate neighbourhood's.  Rows of replaced or
deleted documents stay in the file until the next rebuild writes a fresh one.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import orjson
import tantivy

from services.matching.adapters.search_analysis import TEXT_FIELDS, query_token, with_profile_text
from services.matching.adapters.search_columns import BitLayout, Columns, by_full_id_where_keys_tie, id_key
from services.matching.adapters.search_vectors import VectorFile, VectorMatrix, VectorSpace
from services.matching.domain import meaning
from services.matching.domain.profiles import MentorProfile, index_document
from services.matching.domain.search import (MAX_LOAD_LEVEL, Criterion, Cursor, SearchHit, SearchPage,
                                             SearchQuery)

log = logging.getLogger(__name__)

# Off only in tests, to compare the columns with the engine path on the same index.
USE_COLUMNS = True

KEYWORD_FIELDS = ("expertise", "sectors", "career_stage", "qualifications", "languages", "interaction_modes",
                  "region", "country", "employer", "interests")
# Not stored: the profile holds headline and bio, and the taxonomy gives expertise_text; the
# vector is in the vector file.
_NOT_STORED = frozenset((*TEXT_FIELDS, "vector"))
WRITER_HEAP = 64_000_000
BUILD_HEAP = 256_000_000

def build_schema(layout: BitLayout | None = None, vectors: bool = False) -> tantivy.Schema:
    """The schema of a version with this bit layout (default: a version created now), and the
    `vector_row` field when the version holds vectors."""
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("member_id", stored=True, tokenizer_name="raw", index_option="basic")
    # First 8 bytes of the member id as a number: orders most ties without loading documents.
    builder.add_unsigned_field("id_key", fast=True)
    for name in TEXT_FIELDS:
        builder.add_text_field(name, tokenizer_name="en_stem", index_option="freq")
    for name in KEYWORD_FIELDS:
        builder.add_text_field(name, tokenizer_name="raw", index_option="basic")
    builder.add_integer_field("years_experience", indexed=True, fast=True)
    builder.add_integer_field("load_level", indexed=True, fast=True)
    builder.add_bytes_field("source", stored=True)
    # Last, so the other fields keep their numbers in versions with and without them.
    for fields in (BitLayout.current() if layout is None else layout).fields.values():
        for name in fields:
            builder.add_unsigned_field(name, fast=True)
    if vectors:  # after everything older versions have
        builder.add_unsigned_field("vector_row", fast=True)
    return builder.build()


def version_schema(folder: Path) -> tantivy.Schema:
    """The schema of the version in `folder`: its own bit layout, its vector field if it has vectors."""
    return build_schema(BitLayout.load(folder), vectors=VectorSpace.load(folder) is not None)


def to_document(doc: dict[str, Any], layout: BitLayout | None = None, vector_row: int | None = None
                ) -> tantivy.Document:
    """`vector_row`: the 1-based row of the document's vector in the version's vector file (0:
    none); None for a version without vectors."""
    document = tantivy.Document()
    document.add_text("member_id", doc["member_id"])
    document.add_unsigned("id_key", id_key(doc["member_id"]))
    for name in TEXT_FIELDS:
        document.add_text(name, doc.get(name) or "")
    for name in KEYWORD_FIELDS:
        for value in doc.get(name) or []:
            document.add_text(name, value)
    document.add_integer("years_experience", int(doc.get("years_experience") or 0))
    document.add_integer("load_level", int(doc.get("load_level") or 0))
    for field, word in (BitLayout.current() if layout is None else layout).document_words(doc):
        document.add_unsigned(field, word)
    if vector_row is not None:
        document.add_unsigned("vector_row", vector_row)
    # Stored: the document without the text that repeats the profile (see `stored_document`).
    stored = {name: value for name, value in doc.items() if name not in _NOT_STORED}
    document.add_bytes("source", orjson.dumps(stored))  # read back with orjson by `stored_document`
    return document


def stored_document(raw: bytes) -> dict[str, Any]:
    """The full index document again, from the stored part.

    Filling in three text fields costs a fraction of rebuilding the document from the
    profile (a dataclass round trip), which took a third of a search's time."""
    stored = orjson.loads(raw)
    if "expertise" not in stored:  # written before the keyword fields were stored
        return index_document(stored["member_id"], stored["name"], MentorProfile.from_dict(stored["profile"]),
                              stored["load_level"])
    return with_profile_text(stored)


# --- query compiler ---------------------------------------------------------------------


def _criterion_query(schema: tantivy.Schema, criterion: Criterion) -> tantivy.Query:
    if criterion.minimum is not None:
        return tantivy.Query.range_query(schema, criterion.index_field, tantivy.FieldType.Integer,
                                         criterion.minimum, None)
    return tantivy.Query.term_set_query(schema, criterion.index_field, list(criterion.values))


def compile_query(query: SearchQuery, schema: tantivy.Schema, *, nudge: bool = True,
                  near_ids: list[str] | None = None, criteria: bool = True) -> tantivy.Query:
    """The same clauses as `search_dsl.compile_query`, in tantivy's query objects.

    `nudge=False` leaves out the four load-level clauses: they match every mentor, so
    scoring them cost a quarter of a search; `EmbeddedSearchIndex.search` adds the same
    nudge to the hits it fetched instead.  `near_ids` lists the mentors near the need in
    meaning: they are listed (score 0 from this clause) whatever else they match, and the
    caller adds every hit's semantic bonus.  `criteria=False` leaves out the criteria clauses:
    the query lists the mentors that share a word, scored by the words' part alone."""
    Occur = tantivy.Occur
    Query = tantivy.Query
    clauses: list[tuple[Any, tantivy.Query]] = []
    if query.scored:
        scoring: list[tuple[Any, tantivy.Query]] = [
            (Occur.Should, Query.const_score_query(_criterion_query(schema, c), c.weight))
            for c in (query.criteria if criteria else ())
        ]
        for word_clauses in query.text_clauses():
            per_field = []
            for clause in word_clauses:
                token = query_token(clause.term)
                if token is None:
                    continue
                term_query = Query.term_query(schema, clause.field, token, index_option="freq")
                per_field.append(Query.const_score_query(term_query, clause.boost))
            if per_field:
                scoring.append((Occur.Should, Query.disjunction_max_query(per_field, 0.0)))
        if near_ids:
            scoring.append((Occur.Should, Query.const_score_query(
                Query.term_set_query(schema, "member_id", near_ids), 0.0)))
        clauses.append((Occur.Must, Query.boolean_query(scoring) if scoring else Query.empty_query()))
    else:
        clauses.append((Occur.Must, Query.const_score_query(Query.all_query(), 0.0)))
    for hard in query.filters:
        clauses.append((Occur.Must, Query.const_score_query(_criterion_query(schema, hard), 0.0)))
    if query.exclude_ids:
        clauses.append((Occur.MustNot, Query.term_set_query(schema, "member_id", list(query.exclude_ids))))
    if nudge:
        for level in range(MAX_LOAD_LEVEL):
            clauses.append((Occur.Should, Query.const_score_query(
                Query.term_query(schema, "load_level", level), query.nudge(level))))
    return Query.boolean_query(clauses)


# --- the index ----------------------------------------------------------------------------


class _Opened:
    def __init__(self, name: str, index: tantivy.Index, stamp: int, meta: Path, layout: BitLayout,
                 space: VectorSpace | None, folder: Path) -> None:
        self.name = name
        self.index = index
        self.stamp = stamp
        self.writer: tantivy.IndexWriter | None = None
        self.meta = meta
        self.committed = _changed(meta)
        self.layout = layout
        self.schema = index.schema  # the one the index was opened with (its own layout)
        # Bumped after each reload; columns of an older generation are rebuilt before use.
        self.generation = 0
        self.columns: Columns | None = None
        self.building = threading.Lock()
        # The version's vectors (None: made before vectors, or without a model).
        self.space = space
        self.vector_file = VectorFile(folder, space) if space is not None else None
        self.matrix = VectorMatrix(folder, space) if space is not None else None

    def reload(self) -> None:
        self.index.reload()
        self.generation += 1


def _changed(path: Path) -> tuple[int, int]:
    """When and as which inode `path` was last written: tantivy replaces meta.json by rename
    on each commit, so the inode tells two commits within one mtime tick apart (the
    columns keep their generation until this changes)."""
    try:
        stat = path.stat()
        return stat.st_mtime_ns, stat.st_ino
    except FileNotFoundError:
        return 0, 0


class EmbeddedSearchIndex:
    """`writes=False` for processes that only search (`connect serve --workers` API
    processes): they never open a tantivy writer and leave the post-swap catch-up to
    the one process that runs the indexer."""

    in_process = True

    def __init__(self, folder: Path, alias: str, *, writes: bool = True, space: VectorSpace | None = None) -> None:
        self.folder = folder
        self.alias = alias
        self.writes = writes
        self.layout = BitLayout.current()  # for the versions this process creates
        # The embedding model's vectors (None: no meaning).  Versions it creates hold them;
        # a version of another model (or none) serves searches without meaning until rebuilt.
        self.space = space
        self.on_switch: Callable[[datetime], None] | None = None
        self._opened: _Opened | None = None
        self._lock = threading.RLock()

    @property
    def alias_file(self) -> Path:
        return self.folder / f"{self.alias}.json"

    def _read_alias(self) -> tuple[dict[str, Any], int] | None:
        try:
            stamp = self.alias_file.stat().st_mtime_ns
            return json.loads(self.alias_file.read_text()), stamp
        except FileNotFoundError:
            return None

    def _write_alias(self, name: str, started_at: datetime) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.alias_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"index": name, "build_started": started_at.isoformat()}))
        os.replace(tmp, self.alias_file)

    def _new_name(self) -> str:
        return f"{self.alias}-v{datetime.now(timezone.utc).strftime('%Y%m%d%H%M%S%f')}"

    def _current(self) -> _Opened:
        """The index the alias names, reopened when another process swapped it."""
        opened = self._opened
        try:
            if opened is not None and self.alias_file.stat().st_mtime_ns == opened.stamp:
                # The common case: two stat() calls.  tantivy's own reload of another
                # process's commit lags ~0.5 s; reloading on a changed meta.json makes a
                # commit by the indexer process searchable here at once.
                committed = _changed(opened.meta)
                if committed != opened.committed:
                    opened.committed = committed
                    opened.reload()
                return opened
        except FileNotFoundError:
            pass
        with self._lock:
            alias = self._read_alias()
            if alias is None:
                self.ensure()
                alias = self._read_alias()
                assert alias is not None
            data, stamp = alias
            opened = self._opened
            if opened is not None and opened.stamp == stamp:
                return opened
            switched = opened is not None and opened.name != data["index"]
            if opened is not None:
                self._release(opened)
            path = self.folder / data["index"]
            # Its own layout: a version made before the columns (or under another taxonomy) has other fields.
            layout = BitLayout.load(path)
            space = VectorSpace.load(path)
            index = tantivy.Index(build_schema(layout, vectors=space is not None), path=str(path), reuse=True)
            self._opened = _Opened(data["index"], index, stamp, path / "meta.json", layout, space, path)
        if switched and self.on_switch is not None and self.writes:
            # Changes this process indexed into the old version while the new one was
            # being built would be lost without this catch-up.
            self.on_switch(datetime.fromisoformat(data["build_started"]))
        return self._opened

    def _release(self, opened: _Opened) -> None:
        if opened.writer is not None:
            opened.writer.wait_merging_threads()
            opened.writer = None

    def ensure(self) -> None:
        with self._lock:
            if self._read_alias() is not None:
                return
            name = self._new_name()
            path = self.folder / name
            path.mkdir(parents=True, exist_ok=True)
            self.layout.save(path)
            if self.space is not None:
                self.space.save(path)
            tantivy.Index(build_schema(self.layout, vectors=self.space is not None), path=str(path), reuse=True)
            self._write_alias(name, datetime.now(timezone.utc))

    @property
    def holds_vectors(self) -> bool:
        """Whether index documents should carry their profile vector (`doc["vector"]`, int8)."""
        return self.space is not None

    def vectors_current(self) -> bool:
        """False when the live version holds no vectors of the configured model (rebuild it)."""
        return self.space is None or self._current().space == self.space

    def _write(self, change: Callable[[tantivy.IndexWriter, _Opened], None]) -> None:
        if not self.writes:
            raise RuntimeError("this process only searches the embedded index; the indexer process writes it")
        opened = self._current()
        with self._lock:
            if opened.writer is None:
                opened.writer = opened.index.writer(heap_size=WRITER_HEAP, num_threads=1)
            change(opened.writer, opened)
            opened.writer.commit()
            opened.reload()

    def upsert(self, docs: Iterable[dict[str, Any]]) -> None:
        docs = list(docs)
        if not docs:
            return

        def change(writer: tantivy.IndexWriter, opened: _Opened) -> None:
            rows = _vector_rows(opened.vector_file, opened.space == self.space, docs)
            for doc, row in zip(docs, rows):
                writer.delete_documents_by_term("member_id", doc["member_id"])
                writer.add_document(to_document(doc, opened.layout, row))

        self._write(change)

    def delete(self, member_ids: Iterable[str]) -> None:
        ids = list(member_ids)
        if not ids:
            return

        def change(writer: tantivy.IndexWriter, _opened: _Opened) -> None:
            for member_id in ids:
                writer.delete_documents_by_term("member_id", member_id)

        self._write(change)

    def count(self) -> int:
        return self._current().index.searcher().num_docs

    def ping(self) -> None:
        self._current().index.searcher()

    def close(self) -> None:
        with self._lock:
            if self._opened is not None:
                self._release(self._opened)
                self._opened = None

    # --- search ---------------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchPage:
        opened = self._current()
        if query.meaning is not None:
            if opened.matrix is not None and opened.space == self.space \
                    and query.meaning.model_id == opened.space.model_id:
                return self._search_with_meaning(opened, query)
            # A version without this model's vectors (being rebuilt): words and criteria only.
            query = dataclasses.replace(query, meaning=None)
        columns = self._columns(opened) if USE_COLUMNS and opened.layout.answers(query) else None
        if columns is not None:
            page, total, more = columns.search(query)
            return self._page(columns.searcher, query, page, total, more)
        searcher = opened.index.searcher()
        return self._engine_page(searcher, query, compile_query(query, opened.schema, nudge=False))

    def _engine_page(self, searcher: tantivy.Searcher, query: SearchQuery, compiled: tantivy.Query,
                     bonus: Callable[[list[Any]], np.ndarray] | None = None, most_bonus: float = 0.0,
                     similarities: np.ndarray | None = None) -> SearchPage:
        """The page of an engine search.  The engine ranks by the criteria and text part
        ("base"); the nudge (0 .. `most`) is added here from the load_level fast field, and
        with a need, each hit's semantic `bonus` (at most `most_bonus`).  The fetched hits hold
        the true top `wanted` once the wanted-th final score beats anything unfetched could
        reach: the last fetched base score plus the largest nudge and bonus."""
        nudges = [query.nudge(level) for level in range(MAX_LOAD_LEVEL + 1)]
        most = max(nudges) + most_bonus
        cursor = query.cursor
        wanted = query.size + 1
        # Scores are coarse sums, so ties at the page boundary are common: start wide (a few hundred
        # hits cost little more than twenty) so that one search usually suffices.
        limit = max(512, ((cursor.returned if cursor else 0) + wanted) * 4)
        # Never room for more hits than there are documents: tantivy allocates for `limit` up
        # front, and a process that cannot allocate aborts (issue 12). Past the documents the
        # search is exhausted, which ends the loop below.
        ceiling = searcher.num_docs + 1
        limit = min(limit, ceiling)
        while True:
            result = searcher.search(compiled, limit=limit, count=True)
            hits = result.hits
            ordered = self._order(searcher, hits, nudges, bonus)
            if cursor is not None:
                ordered = [h for h in ordered if self._after(searcher, h, cursor)]
            exhausted = len(hits) < limit
            if exhausted or (len(ordered) >= wanted and ordered[wanted - 1][0] > hits[-1][0] + most):
                break
            limit = min(limit * 8, ceiling)
        page = [(score, address) for score, address, _key in ordered[:query.size]]
        return self._page(searcher, query, page, result.count, len(ordered) > query.size, similarities)

    def _search_with_meaning(self, opened: _Opened, query: SearchQuery) -> SearchPage:
        """A search with a need: every mentor's similarity from one scan of the version's
        vectors, then the columns (no query words, taxonomy criteria) or the engine rank."""
        assert query.meaning is not None and opened.matrix is not None
        columns = self._columns(opened, wait=True)  # rows <-> vector rows, filters, exclusions
        assert columns is not None
        searcher = columns.searcher  # one generation for rows, addresses and documents
        by_vector_row = opened.matrix.cosines(query.meaning, columns.max_vector_row)
        sims = columns.similarities(by_vector_row)
        bonus = query.semantic_bonus(sims)
        passing = self._passing(opened, columns, query)
        near = columns.nearest(sims, passing & (bonus > 0), meaning.SEMANTIC_CANDIDATES)
        # Filters are in `passing` already (asked of the engine when the columns cannot answer them).
        criteria_only = dataclasses.replace(query, meaning=None, text_terms=(), filters=())
        if USE_COLUMNS and opened.layout.answers(criteria_only):
            if query.text_terms:
                page, total, more = self._words_with_meaning(opened, columns, query, bonus, near, passing)
            else:
                page, total, more = columns.search_with_meaning(query, bonus, near, passing)
            return self._page(searcher, query, page, total, more, by_vector_row)
        compiled = compile_query(query, opened.schema, nudge=False,
                                 near_ids=[columns.member_id(int(row)) for row in np.flatnonzero(near)])

        def bonus_of(addresses: list[Any]) -> np.ndarray:
            return query.semantic_bonus(_lookup(by_vector_row, searcher.fast_field_values("vector_row", addresses)))

        most_bonus = float(bonus[passing].max()) if passing.any() else 0.0
        return self._engine_page(searcher, query, compiled, bonus_of, most_bonus, by_vector_row)

    def _words_with_meaning(self, opened: _Opened, columns: Columns, query: SearchQuery, bonus: np.ndarray,
                            near: np.ndarray, passing: np.ndarray) -> tuple[list[tuple[float, Any]], int, bool]:
        """A search with words and a need whose criteria the columns answer: the columns rank,
        with each mentor's words' part made from the rows of each query word in each text
        field (`Columns.term_rows`), as the engine scores it: per word its best field's boost.

        The engine path ranked by the words and added the bonus after; as the bonus can be as
        large as the words' part, it had to fetch every mentor sharing a common word."""
        lexical = np.zeros(len(columns))
        worded = np.zeros(len(columns), dtype=bool)
        for word_clauses in query.text_clauses():
            token = query_token(word_clauses[0].term)  # one word, the same in every field
            if token is None:
                continue
            best = np.zeros(len(columns))
            for clause in word_clauses:
                rows = columns.term_rows(clause.field, token)
                best[rows] = np.maximum(best[rows], clause.boost)
                worded[rows] = True
            lexical += best
        return columns.search_with_meaning(query, bonus, near, passing, lexical, worded)

    def _passing(self, opened: _Opened, columns: Columns, query: SearchQuery) -> np.ndarray:
        """Per row: meets every hard filter and is not excluded."""
        filters_only = SearchQuery(filters=query.filters)
        if opened.layout.answers(filters_only):
            passing = columns.meets_all(query.filters)
        else:  # a filter the columns cannot answer (country, interests): ask the engine once
            compiled = compile_query(filters_only, opened.schema, nudge=False)
            found = columns.searcher.search(compiled, limit=max(1, len(columns)), count=False).hits
            passing = columns.rows_at([address for _score, address in found])
        if query.exclude_ids:
            passing[columns.rows_of(query.exclude_ids)] = False
        return passing

    def _columns(self, opened: _Opened, wait: bool = False) -> Columns | None:
        """This generation's columns, built on first use; None while another thread builds
        them (the engine answers meanwhile, instead of every waiting request building too),
        unless `wait`."""
        columns = opened.columns
        generation = opened.generation
        if columns is not None and columns.generation == generation:
            return columns
        if not opened.building.acquire(blocking=wait):
            return None
        try:
            columns = opened.columns
            if columns is not None and columns.generation == generation:
                return columns
            began = time.perf_counter()
            # The generation is read before the searcher: columns newer than their number
            # are only rebuilt once more, never older ones kept.
            columns = Columns(opened.index.searcher(), opened.layout, generation, opened.schema,
                              vectors=opened.space is not None)
            opened.columns = columns
        finally:
            opened.building.release()
        log.debug("search columns of %s built: %d mentors in %.1f ms", opened.name, len(columns),
                  (time.perf_counter() - began) * 1000)
        return columns

    def _page(self, searcher: tantivy.Searcher, query: SearchQuery, page: list[tuple[float, Any]], total: int,
              more: bool, by_vector_row: np.ndarray | None = None) -> SearchPage:
        out = []
        sims = (_lookup(by_vector_row, searcher.fast_field_values("vector_row", [a for _s, a in page]))
                if by_vector_row is not None and page else None)
        for i, (score, address) in enumerate(page):
            doc = stored_document(searcher.doc(address).get_first("source"))
            out.append(SearchHit(member_id=doc["member_id"], score=score, doc=doc,
                                 sort=(score, doc["member_id"]),
                                 similarity=None if sims is None else float(sims[i])))
        next_cursor = None
        if more and out:
            next_cursor = query.next_cursor(len(out), out[-1].sort)
        return SearchPage(hits=out, total=total, next_cursor=next_cursor)

    def _member_id(self, searcher: tantivy.Searcher, address: Any) -> str:
        return searcher.doc(address).get_first("member_id")

    def _order(self, searcher: tantivy.Searcher, hits: list[tuple[float, Any]], nudges: list[float],
               bonus: Callable[[list[Any]], np.ndarray] | None = None) -> list[tuple[float, Any, int]]:
        """(final score, address, id key) by score descending, then member id."""
        if not hits:
            return []
        addresses = [address for _score, address in hits]
        keys = searcher.fast_field_values("id_key", addresses)
        levels = searcher.fast_field_values("load_level", addresses)
        top = len(nudges) - 1
        # Exact: every part is a dyadic fraction (see domain.search), as in the engines' float32 sums.
        finals = [score + nudges[min(level, top)] for (score, _address), level in zip(hits, levels)]
        if bonus is not None:
            finals = [final + float(extra) for final, extra in zip(finals, bonus(addresses))]
        # Plain tuples sort in C; the position breaks what the key cannot (it is unique).
        positions = sorted(zip([-final for final in finals], keys, range(len(hits))))
        ordered = [(finals[i], addresses[i], key) for _neg, key, i in positions]
        if len(set(keys)) == len(keys):
            return ordered
        return by_full_id_where_keys_tie(ordered, lambda hit: (hit[0], hit[2]),
                                         lambda hit: self._member_id(searcher, hit[1]))

    def _after(self, searcher: tantivy.Searcher, hit: tuple[float, Any, int], cursor: Cursor) -> bool:
        score, address, key = hit
        after_score, after_id = cursor.after
        if score != after_score:
            return score < after_score
        cursor_key = id_key(after_id)
        if key != cursor_key:
            return key > cursor_key
        return self._member_id(searcher, address) > after_id

    # --- rebuild --------------------------------------------------------------------

    def begin_build(self) -> "EmbeddedBuild":
        name = self._new_name()
        path = self.folder / name
        path.mkdir(parents=True, exist_ok=True)
        self.layout.save(path)
        if self.space is not None:
            self.space.save(path)
        index = tantivy.Index(build_schema(self.layout, vectors=self.space is not None), path=str(path),
                              reuse=False)
        return EmbeddedBuild(self, name, path, index)

    def _versions(self) -> list[Path]:
        return sorted(p for p in self.folder.glob(f"{self.alias}-v*") if p.is_dir())


class EmbeddedBuild:
    def __init__(self, owner: EmbeddedSearchIndex, name: str, path: Path, index: tantivy.Index) -> None:
        self.owner = owner
        self.name = name
        self.path = path
        self.index = index
        self.writer = index.writer(heap_size=BUILD_HEAP, num_threads=2)
        self.layout = owner.layout  # the one `begin_build` saved in the folder
        self.vector_file = VectorFile(path, owner.space) if owner.space is not None else None
        self._added: set[str] = set()

    def add(self, docs: Iterable[dict[str, Any]]) -> int:
        docs = list(docs)
        rows = _vector_rows(self.vector_file, True, docs)
        for doc, row in zip(docs, rows):
            # A fresh index has nothing to replace, except what this build already added (catch-up).
            if doc["member_id"] in self._added:
                self.writer.delete_documents_by_term("member_id", doc["member_id"])
            self._added.add(doc["member_id"])
            self.writer.add_document(to_document(doc, self.layout, row))
        return len(docs)

    def delete(self, member_ids: Iterable[str]) -> None:
        for member_id in member_ids:
            self.writer.delete_documents_by_term("member_id", member_id)

    def swap(self, started_at: datetime) -> None:
        self.writer.commit()
        self.writer.wait_merging_threads()
        previous = self.owner._read_alias()
        self.owner._write_alias(self.name, started_at)
        # Keep the version just replaced: a server may still be reading it until its next call.
        keep = {self.name, previous[0]["index"] if previous else None}
        for path in self.owner._versions():
            if path.name not in keep:
                shutil.rmtree(path, ignore_errors=True)
        log.info("search alias %s now points at %s", self.owner.alias, self.name)

    def abort(self) -> None:
        self.writer.rollback()
        shutil.rmtree(self.path, ignore_errors=True)


def _vector_rows(vector_file: VectorFile | None, usable: bool, docs: list[dict[str, Any]]) -> list[int | None]:
    """Append the documents' vectors; each document's `vector_row` (0: it has none, or the
    version holds another model's vectors; None: the version has no vector field)."""
    if vector_file is None:
        return [None] * len(docs)
    with_vector = [i for i, doc in enumerate(docs) if usable and doc.get("vector") is not None]
    rows: list[int | None] = [0] * len(docs)
    if with_vector:
        first = vector_file.append(np.stack([np.asarray(docs[i]["vector"], dtype=np.int8) for i in with_vector]))
        for offset, i in enumerate(with_vector):
            rows[i] = first + offset
    return rows


def _lookup(by_vector_row: np.ndarray, vector_rows: list[int]) -> np.ndarray:
    """Similarities of documents by their 1-based vector rows (0: no vector, similarity 0)."""
    rows = np.asarray(vector_rows, dtype=np.int64)
    out = np.zeros(len(rows))
    known = (rows > 0) & (rows <= len(by_vector_row))
    out[known] = by_vector_row[rows[known] - 1]
    return out
