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
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import orjson
import tantivy

from services.matching.adapters.search_columns import BitLayout, Columns, by_full_id_where_keys_tie, id_key
from schemas import taxonomy
from services.matching.domain.profiles import MentorProfile, index_document
from services.matching.domain.search import (MAX_LOAD_LEVEL, Criterion, Cursor, SearchHit, SearchPage,
                                             SearchQuery)

log = logging.getLogger(__name__)

# Off only in tests, to compare the columns with the engine path on the same index.
USE_COLUMNS = True

KEYWORD_FIELDS = ("expertise", "sectors", "career_stage", "qualifications", "languages", "interaction_modes",
                  "region", "country", "employer", "interests")
TEXT_FIELDS = ("headline", "bio", "expertise_text")
# Not stored: the profile holds headline and bio, and the taxonomy gives expertise_text.
_DERIVED_TEXT = frozenset(TEXT_FIELDS)
WRITER_HEAP = 64_000_000
BUILD_HEAP = 256_000_000

_ANALYZER = (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
             .filter(tantivy.Filter.remove_long(40))
             .filter(tantivy.Filter.lowercase())
             .filter(tantivy.Filter.stemmer("english"))
             .build())


def build_schema(layout: BitLayout | None = None) -> tantivy.Schema:
    """The schema of a version with this bit layout (default: a version created now)."""
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
    return builder.build()


def to_document(doc: dict[str, Any], layout: BitLayout | None = None) -> tantivy.Document:
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
    # Stored: the document without the text that repeats the profile (see `stored_document`).
    stored = {name: value for name, value in doc.items() if name not in _DERIVED_TEXT}
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
    profile = stored["profile"]
    stored["headline"] = profile["headline"]
    stored["bio"] = profile["bio"]
    stored["expertise_text"] = taxonomy.expertise_text(stored["expertise"])
    return stored


# --- query compiler ---------------------------------------------------------------------


def _criterion_query(schema: tantivy.Schema, criterion: Criterion) -> tantivy.Query:
    if criterion.minimum is not None:
        return tantivy.Query.range_query(schema, criterion.index_field, tantivy.FieldType.Integer,
                                         criterion.minimum, None)
    return tantivy.Query.term_set_query(schema, criterion.index_field, list(criterion.values))


def compile_query(query: SearchQuery, schema: tantivy.Schema, *, nudge: bool = True) -> tantivy.Query:
    """The same clauses as `search_dsl.compile_query`, in tantivy's query objects.

    `nudge=False` leaves out the four load-level clauses: they match every mentor, so
    scoring them cost a quarter of a search; `EmbeddedSearchIndex.search` adds the same
    nudge to the hits it fetched instead."""
    Occur = tantivy.Occur
    Query = tantivy.Query
    clauses: list[tuple[Any, tantivy.Query]] = []
    if query.scored:
        scoring: list[tuple[Any, tantivy.Query]] = [
            (Occur.Should, Query.const_score_query(_criterion_query(schema, c), c.weight)) for c in query.criteria
        ]
        for word_clauses in query.text_clauses():
            per_field = []
            for clause in word_clauses:
                tokens = _ANALYZER.analyze(clause.term)
                if not tokens:
                    continue
                # Query words are runs of [0-9a-z], which this analyzer keeps whole: one token.
                term_query = Query.term_query(schema, clause.field, tokens[0], index_option="freq")
                per_field.append(Query.const_score_query(term_query, clause.boost))
            if per_field:
                scoring.append((Occur.Should, Query.disjunction_max_query(per_field, 0.0)))
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
    def __init__(self, name: str, index: tantivy.Index, stamp: int, meta: Path, layout: BitLayout) -> None:
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

    def __init__(self, folder: Path, alias: str, *, writes: bool = True) -> None:
        self.folder = folder
        self.alias = alias
        self.writes = writes
        self.layout = BitLayout.current()  # for the versions this process creates
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
            index = tantivy.Index(build_schema(layout), path=str(path), reuse=True)
            self._opened = _Opened(data["index"], index, stamp, path / "meta.json", layout)
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
            tantivy.Index(build_schema(self.layout), path=str(path), reuse=True)
            self._write_alias(name, datetime.now(timezone.utc))

    def _write(self, change: Callable[[tantivy.IndexWriter, BitLayout], None]) -> None:
        if not self.writes:
            raise RuntimeError("this process only searches the embedded index; the indexer process writes it")
        opened = self._current()
        with self._lock:
            if opened.writer is None:
                opened.writer = opened.index.writer(heap_size=WRITER_HEAP, num_threads=1)
            change(opened.writer, opened.layout)
            opened.writer.commit()
            opened.reload()

    def upsert(self, docs: Iterable[dict[str, Any]]) -> None:
        docs = list(docs)
        if not docs:
            return

        def change(writer: tantivy.IndexWriter, layout: BitLayout) -> None:
            for doc in docs:
                writer.delete_documents_by_term("member_id", doc["member_id"])
                writer.add_document(to_document(doc, layout))

        self._write(change)

    def delete(self, member_ids: Iterable[str]) -> None:
        ids = list(member_ids)
        if not ids:
            return

        def change(writer: tantivy.IndexWriter, _layout: BitLayout) -> None:
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
        columns = self._columns(opened) if USE_COLUMNS and opened.layout.answers(query) else None
        if columns is not None:
            page, total, more = columns.search(query)
            return self._page(columns.searcher, query, page, total, more)
        searcher = opened.index.searcher()
        # The engine ranks by the criteria and text part ("base"); the nudge (0 .. `most`) is
        # added here from the load_level fast field.  The fetched hits hold the true top
        # `wanted` once the wanted-th final score beats anything unfetched could reach:
        # the last fetched base score plus the largest nudge.
        compiled = compile_query(query, opened.schema, nudge=False)
        nudges = [query.nudge(level) for level in range(MAX_LOAD_LEVEL + 1)]
        most = max(nudges)
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
            ordered = self._order(searcher, hits, nudges)
            if cursor is not None:
                ordered = [h for h in ordered if self._after(searcher, h, cursor)]
            exhausted = len(hits) < limit
            if exhausted or (len(ordered) >= wanted and ordered[wanted - 1][0] > hits[-1][0] + most):
                break
            limit = min(limit * 8, ceiling)
        page = [(score, address) for score, address, _key in ordered[:query.size]]
        return self._page(searcher, query, page, result.count, len(ordered) > query.size)

    def _columns(self, opened: _Opened) -> Columns | None:
        """This generation's columns, built on first use; None while another thread builds
        them (the engine answers meanwhile, instead of every waiting request building too)."""
        columns = opened.columns
        generation = opened.generation
        if columns is not None and columns.generation == generation:
            return columns
        if not opened.building.acquire(blocking=False):
            return None
        try:
            began = time.perf_counter()
            # The generation is read before the searcher: columns newer than their number
            # are only rebuilt once more, never older ones kept.
            columns = Columns(opened.index.searcher(), opened.layout, generation)
            opened.columns = columns
        finally:
            opened.building.release()
        log.debug("search columns of %s built: %d mentors in %.1f ms", opened.name, len(columns),
                  (time.perf_counter() - began) * 1000)
        return columns

    def _page(self, searcher: tantivy.Searcher, query: SearchQuery, page: list[tuple[float, Any]], total: int,
              more: bool) -> SearchPage:
        out = []
        for score, address in page:
            doc = stored_document(searcher.doc(address).get_first("source"))
            out.append(SearchHit(member_id=doc["member_id"], score=score, doc=doc,
                                 sort=(score, doc["member_id"])))
        next_cursor = None
        if more and out:
            next_cursor = query.next_cursor(len(out), out[-1].sort)
        return SearchPage(hits=out, total=total, next_cursor=next_cursor)

    def _member_id(self, searcher: tantivy.Searcher, address: Any) -> str:
        return searcher.doc(address).get_first("member_id")

    def _order(self, searcher: tantivy.Searcher, hits: list[tuple[float, Any]],
               nudges: list[float]) -> list[tuple[float, Any, int]]:
        """(final score, address, id key) by score descending, then member id."""
        if not hits:
            return []
        addresses = [address for _score, address in hits]
        keys = searcher.fast_field_values("id_key", addresses)
        levels = searcher.fast_field_values("load_level", addresses)
        top = len(nudges) - 1
        # Exact: every part is a dyadic fraction (see domain.search), as in the engines' float32 sums.
        finals = [score + nudges[min(level, top)] for (score, _address), level in zip(hits, levels)]
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
        index = tantivy.Index(build_schema(self.layout), path=str(path), reuse=False)
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
        self._added: set[str] = set()

    def add(self, docs: Iterable[dict[str, Any]]) -> int:
        added = 0
        for doc in docs:
            # A fresh index has nothing to replace, except what this build already added (catch-up).
            if doc["member_id"] in self._added:
                self.writer.delete_documents_by_term("member_id", doc["member_id"])
            self._added.add(doc["member_id"])
            self.writer.add_document(to_document(doc, self.layout))
            added += 1
        return added

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
