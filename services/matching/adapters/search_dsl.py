"""The Elasticsearch/OpenSearch side of the search index: mappings, the query compiler
and the index lifecycle shared by both clients (they speak the same DSL).

Each criterion is a `constant_score` clause whose boost is its weight, named
`c:<criterion>` so `matched_queries` tells which criteria matched; each query
word is a `dis_max` of `constant_score` clauses over the text fields.  The
cluster does not analyse text: documents carry the tokens of tantivy's `en_stem`
(`search_analysis`) in their text fields, which split on whitespace only, and each
query word is a `term` of its token, so every engine sees the very same words (the
cluster's Snowball English stems some words otherwise).  An index made when the
cluster stemmed (no `analysis` in its `_meta`) is written and searched as it was made
until it is rebuilt (`analysis_current`).  Ties are ordered by `member_id`; paging is
`search_after` on (score, member_id).

Vectors (docs/matching.md, "Meaning"): an index made with a `VectorSpace` keeps each
mentor's int8 profile vector, the very vector the embedded engine holds, and says so in its
mapping's `_meta`.  A search with a need reads the mentors nearest in meaning
(`Vectors.nearest`: Elasticsearch's `knn` on a `dense_vector`, OpenSearch's exact painless
scan), lists them beside those that meet a criterion or share a word, and ranks with the
domain's formula: the engine sums criteria, words and nudge as before, and each mentor that
can reach the page gets its `semantic_bonus` from the exact cosine of its stored vector
(`meaning.cosines`); the page is found by the threshold algorithm over the two orders
(`search_threshold.settle`).
"""

from __future__ import annotations

import base64
import logging
import struct
import threading
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Protocol

import numpy as np

from services.matching.adapters import search_analysis
from services.matching.adapters.search_analysis import ANALYSIS_VERSION, TEXT_FIELDS
from services.matching.adapters.search_threshold import MAX_CHUNK, settle
from services.matching.adapters.search_vectors import VectorSpace
from services.matching.domain import meaning
from services.matching.domain.search import MAX_LOAD_LEVEL, Criterion, SearchHit, SearchPage, SearchQuery
from services.matching.interfaces import SearchUnavailable

log = logging.getLogger(__name__)

KEYWORD_FIELDS = ("member_id", "expertise", "sectors", "career_stage", "qualifications", "languages",
                  "interaction_modes", "region", "country", "employer", "interests")
INDEX_SETTINGS: dict[str, Any] = {"number_of_shards": 1, "number_of_replicas": 0}
# The order of every ranked request: score, ties by member id (`search_after` pages on both).
BY_SCORE_THEN_ID: list[dict[str, Any]] = [{"_score": {"order": "desc"}}, {"member_id": {"order": "asc"}}]

MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "_meta": {"analysis": ANALYSIS_VERSION},
    "properties": {
        **{name: {"type": "keyword"} for name in KEYWORD_FIELDS},
        # tantivy's tokens, joined by spaces (`search_analysis`); the built-in `whitespace`
        # analyzer splits them again and changes nothing.
        **{name: {"type": "text", "analyzer": "whitespace", "similarity": "boolean", "index_options": "docs",
                  "norms": False} for name in TEXT_FIELDS},
        "name": {"type": "keyword", "index": False},
        "years_experience": {"type": "integer"},
        "load_level": {"type": "integer"},
        # Shown, never searched.
        "profile": {"type": "object", "enabled": False},
    },
}


def analysis_of(mappings: dict[str, Any]) -> int:
    """The analysis version an index's mappings say it was made with (1: before the mark)."""
    return int((mappings.get("_meta") or {}).get("analysis", 1))


def exact_score(value: Any) -> float:
    """The float32 the engine computed, from the shortest decimal it printed in JSON."""
    return struct.unpack("<f", struct.pack("<f", float(value)))[0]


def _criterion_filter(criterion: Criterion) -> dict[str, Any]:
    if criterion.minimum is not None:
        return {"range": {criterion.index_field: {"gte": criterion.minimum}}}
    return {"terms": {criterion.index_field: list(criterion.values)}}


def passing_filter(query: SearchQuery) -> dict[str, Any]:
    """Mentors who pass the hard filters and are not excluded (whom a need may list)."""
    body: dict[str, Any] = {"filter": [_criterion_filter(c) for c in query.filters] or [{"match_all": {}}]}
    if query.exclude_ids:
        body["must_not"] = [{"terms": {"member_id": list(query.exclude_ids)}}]
    return {"bool": body}


def _word_filter(field: str, word: str, analysed: bool) -> dict[str, Any] | None:
    """The clause that finds `word` in `field`: its token (tantivy's), or the word for the
    cluster to stem in an index made before the analysis was shared (None: no token)."""
    if not analysed:
        return {"match": {field: word}}
    token = search_analysis.query_token(word)
    return None if token is None else {"term": {field: token}}


def compile_query(query: SearchQuery, near_ids: list[str] | tuple[str, ...] = (), *,
                  analysed: bool = True) -> dict[str, Any]:
    """The `query` part of the request body; the same clauses as the tantivy compiler.
    `near_ids`: the mentors nearest the need in meaning, listed (score 0 from this clause)
    whatever else they match; the caller adds every hit's semantic bonus.  `analysed=False`:
    for an index of analysis version 1, whose text the cluster stemmed itself."""
    must: list[dict[str, Any]] = []
    if query.scored:
        scoring: list[dict[str, Any]] = [
            {"constant_score": {"filter": _criterion_filter(c), "boost": c.weight, "_name": f"c:{c.name}"}}
            for c in query.criteria
        ]
        for i, word_clauses in enumerate(query.text_clauses()):
            per_field = [{"constant_score": {"filter": found, "boost": c.boost, "_name": f"t:{i}:{c.field}"}}
                         for c in word_clauses
                         if (found := _word_filter(c.field, c.term, analysed)) is not None]
            if per_field:
                scoring.append({"dis_max": {"tie_breaker": 0.0, "queries": per_field}})
        if near_ids:
            scoring.append({"constant_score": {"filter": {"terms": {"member_id": list(near_ids)}}, "boost": 0.0}})
        # A bool without clauses matches everything; a need with no one near lists no one.
        must.append({"bool": {"should": scoring, "minimum_should_match": 1}} if scoring else {"match_none": {}})
    body: dict[str, Any] = passing_filter(query)["bool"]
    body.update({
        "must": must,
        "should": [
            {"constant_score": {"filter": {"term": {"load_level": level}}, "boost": query.nudge(level)}}
            for level in range(MAX_LOAD_LEVEL)
        ],
        # Nudges only add; they never decide whether a mentor is listed.
        "minimum_should_match": 0,
    })
    return {"bool": body}


def search_body(query: SearchQuery, analysed: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "query": compile_query(query, analysed=analysed),
        "sort": BY_SCORE_THEN_ID,
        "size": query.size + 1,
        "track_total_hits": True,
        # The text fields hold tokens; hits show the profile's text (`with_profile_text`).
        "_source": {"excludes": [*VECTOR_FIELDS, *TEXT_FIELDS]},
    }
    if query.cursor is not None:
        body["search_after"] = list(query.cursor.after)
    return body


# --- vectors ------------------------------------------------------------------------------

VECTOR_FIELD = "vector"
SQUARED_NORM_FIELD = "vector_squared_norm"
VECTOR_FIELDS = (VECTOR_FIELD, SQUARED_NORM_FIELD)

Search = Callable[[dict[str, Any]], dict[str, Any]]


def _ids_filter(ids: list[str]) -> dict[str, Any]:
    return {"ids": {"values": ids}}


def _batches(ids: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), MAX_CHUNK):
        yield ids[start:start + MAX_CHUNK]


class NearestReader(Protocol):
    def read(self, count: int) -> tuple[list[tuple[str, float]], bool]:
        """The next `count` passing mentors nearest the need, nearest first, with the engine's float
        cosine; and whether more may follow (([], True): the engine reads no deeper)."""
        ...


class Vectors:
    """How an engine keeps the int8 profile vectors, finds the mentors nearest a need (a chunk at
    a time, by its own float similarity) and gives the exact similarity of given mentors."""

    def __init__(self, space: VectorSpace) -> None:
        self.space = space

    # Nearest hits of the first request: each request scans every passing mentor whatever its
    # size, so the first asks for enough that most searches need no second (measured at 100k:
    # 1,024 takes one nearest and one ranked request for most searches, 256 two of each).
    first_nearest = 1024

    def properties(self) -> dict[str, Any]:
        raise NotImplementedError

    def fields(self, vector: np.ndarray) -> dict[str, Any]:
        """The document fields that hold `vector`."""
        raise NotImplementedError

    def decode(self, source: dict[str, Any]) -> np.ndarray | None:
        raise NotImplementedError

    def nearest(self, search: Search, query: SearchQuery) -> NearestReader:
        """The passing mentors with a vector, nearest the need first."""
        raise NotImplementedError

    def estimates(self, search: Search, query: SearchQuery, ids: list[str]) -> dict[str, float]:
        """The engine's float cosine of each of `ids` with a vector (within `search_threshold.EPSILON`
        of the exact one)."""
        raise NotImplementedError

    def similarities(self, search: Search, query: SearchQuery, ids: list[str]) -> dict[str, float]:
        """The exact int8 cosine (`meaning.cosines`) of each of `ids` that has a stored vector."""
        assert query.meaning is not None
        found: dict[str, float] = {}
        for batch in _batches(ids):
            hits = search({"query": _ids_filter(batch), "size": len(batch),
                           "_source": ["member_id", VECTOR_FIELD]})["hits"]["hits"]
            rows = [(h["_id"], self.decode(h["_source"])) for h in hits]
            rows = [(member_id, row) for member_id, row in rows if row is not None]
            if rows:
                sims = meaning.cosines(np.stack([row for _m, row in rows]), query.meaning.vector)
                found.update((member_id, float(sim)) for (member_id, _row), sim in zip(rows, sims))
        return found


class KnnVectors(Vectors):
    """Elasticsearch: `dense_vector` of bytes (exactly the int8 vector), searched by `knn`.

    `flat` (brute force, exact) rather than HNSW: the nearest SEMANTIC_CANDIDATES must be
    the same mentors the embedded engine's exact scan finds, and a flat index costs no graph
    build when indexing.  Its knn score for `cosine` is (1 + cosine) / 2, in float32."""

    def properties(self) -> dict[str, Any]:
        return {VECTOR_FIELD: {"type": "dense_vector", "element_type": "byte", "dims": self.space.dimensions,
                               "index": True, "similarity": "cosine", "index_options": {"type": "flat"}}}

    def fields(self, vector: np.ndarray) -> dict[str, Any]:
        return {VECTOR_FIELD: [int(v) for v in vector]}

    def decode(self, source: dict[str, Any]) -> np.ndarray | None:
        stored = source.get(VECTOR_FIELD)
        return None if stored is None else np.asarray(stored, dtype=np.int8)

    def _knn(self, query: SearchQuery, k: int, filter_: dict[str, Any]) -> dict[str, Any]:
        assert query.meaning is not None
        return {"field": VECTOR_FIELD, "query_vector": [int(v) for v in query.meaning.vector],
                "k": k, "num_candidates": k, "filter": filter_}

    def nearest(self, search: Search, query: SearchQuery) -> NearestReader:
        return _KnnReader(self, search, query)

    def estimates(self, search: Search, query: SearchQuery, ids: list[str]) -> dict[str, float]:
        found: dict[str, float] = {}
        for batch in _batches(ids):
            hits = search({"knn": self._knn(query, len(batch), _ids_filter(batch)), "size": len(batch),
                           "_source": False})["hits"]["hits"]
            found.update((h["_id"], 2.0 * float(h["_score"]) - 1.0) for h in hits)
        return found


class _KnnReader:
    """knn has no `search_after`: each chunk asks for the `k` nearest and skips what was read
    (`from`); a flat index scans the passing mentors once per request either way.  `k` stops
    at MAX_CHUNK, Elasticsearch's limit."""

    def __init__(self, vectors: KnnVectors, search: Search, query: SearchQuery) -> None:
        self.vectors, self.search, self.query = vectors, search, query
        self.read_so_far = 0

    def read(self, count: int) -> tuple[list[tuple[str, float]], bool]:
        k = min(self.read_so_far + count, MAX_CHUNK)
        asked = k - self.read_so_far
        if asked <= 0:
            return [], True
        hits = self.search({"knn": self.vectors._knn(self.query, k, passing_filter(self.query)),
                            "from": self.read_so_far, "size": asked, "_source": False})["hits"]["hits"]
        self.read_so_far += len(hits)
        return [(h["_id"], 2.0 * float(h["_score"]) - 1.0) for h in hits], len(hits) == asked


# Exact cosine of the stored bytes with the need, as `meaning.cosines_from_dots` computes it;
# script scores may not be negative, hence 1 + cosine.  The need is turned into an int[] once
# per request (kept in its params), not unboxed from the params' list for every mentor: about
# 1.5 times faster at 100k.
_COSINE_SCRIPT = """
BytesRef v = doc['vector'].value;
int[] q = params['_q'];
if (q == null) {
  List given = params.q;
  q = new int[given.size()];
  for (int i = 0; i < q.length; ++i) { q[i] = (int) given.get(i); }
  params['_q'] = q;
}
long dot = 0;
for (int i = 0; i < v.length; ++i) { dot += v.bytes[v.offset + i] * q[i]; }
double n = doc['vector_squared_norm'].value;
if (n == 0) { return 0.0; }
return 1.0 + dot / (Math.sqrt(n) * Math.sqrt(params.qn));
"""


class ScriptedVectors(Vectors):
    """OpenSearch without its k-NN plugin (a native plugin the test harness cannot load from
    Maven Central): the int8 vector as `binary` doc values, and an exact painless scan of the
    passing mentors for the nearest (its float32 score is 1 + cosine)."""

    def properties(self) -> dict[str, Any]:
        return {VECTOR_FIELD: {"type": "binary", "doc_values": True},
                SQUARED_NORM_FIELD: {"type": "integer"}}

    def fields(self, vector: np.ndarray) -> dict[str, Any]:
        return {VECTOR_FIELD: base64.b64encode(vector.astype(np.int8).tobytes()).decode(),
                SQUARED_NORM_FIELD: int(meaning.squared_norms(vector)[0])}

    def decode(self, source: dict[str, Any]) -> np.ndarray | None:
        stored = source.get(VECTOR_FIELD)
        return None if stored is None else np.frombuffer(base64.b64decode(stored), dtype=np.int8)

    def scan(self, query: SearchQuery, among: dict[str, Any]) -> dict[str, Any]:
        """A `script_score` query: the cosine of every mentor of `among` that has a vector."""
        assert query.meaning is not None
        with_vector = {"bool": {"filter": [among, {"exists": {"field": SQUARED_NORM_FIELD}}]}}
        return {"script_score": {"query": with_vector, "script": {
            "source": _COSINE_SCRIPT, "lang": "painless",
            "params": {"q": [int(v) for v in query.meaning.vector], "qn": query.meaning.squared_norm}}}}

    def nearest(self, search: Search, query: SearchQuery) -> NearestReader:
        return _ScanReader(self, search, query)

    def estimates(self, search: Search, query: SearchQuery, ids: list[str]) -> dict[str, float]:
        found: dict[str, float] = {}
        for batch in _batches(ids):
            hits = search({"query": self.scan(query, _ids_filter(batch)), "size": len(batch),
                           "_source": False})["hits"]["hits"]
            found.update((h["_id"], float(h["_score"]) - 1.0) for h in hits)
        return found


class _ScanReader:
    def __init__(self, vectors: ScriptedVectors, search: Search, query: SearchQuery) -> None:
        self.vectors, self.search, self.query = vectors, search, query
        self.after: list[Any] | None = None

    def read(self, count: int) -> tuple[list[tuple[str, float]], bool]:
        body: dict[str, Any] = {"query": self.vectors.scan(self.query, passing_filter(self.query)),
                                "sort": BY_SCORE_THEN_ID,
                                "size": count, "_source": False}
        if self.after is not None:
            body["search_after"] = self.after
        hits = self.search(body)["hits"]["hits"]
        if hits:
            self.after = hits[-1]["sort"]
        return [(h["_id"], float(h["sort"][0]) - 1.0) for h in hits], len(hits) == count


def space_of(mappings: dict[str, Any]) -> VectorSpace | None:
    """The vectors an index's mappings say it holds (None: made before vectors)."""
    described = (mappings.get("_meta") or {}).get("vectors")
    return VectorSpace(str(described["model"]), int(described["dimensions"])) if described else None


class DslClient(Protocol):
    """What the adapters need from a client: the few calls of elasticsearch-py / opensearch-py."""

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def bulk(self, operations: list[dict[str, Any]], refresh: str | bool) -> dict[str, Any]: ...

    def alias_targets(self, alias: str) -> list[str]: ...

    def create_index(self, name: str, settings: dict[str, Any], mappings: dict[str, Any],
                     aliases: dict[str, Any] | None = None, exist_ok: bool = False) -> None: ...

    def put_settings(self, name: str, settings: dict[str, Any]) -> None: ...

    def mappings(self, alias: str) -> dict[str, dict[str, Any]]:
        """Index name -> its mappings, for the indices behind `alias` ({} when there are none)."""
        ...

    def refresh(self, name: str) -> None: ...

    def update_aliases(self, actions: list[dict[str, Any]]) -> None: ...

    def delete_index(self, name: str) -> None: ...

    def count(self, index: str) -> int: ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


def _bulk_index_ops(index: str, docs: Iterable[dict[str, Any]], vectors: Vectors | None,
                    analysed: bool = True) -> list[dict[str, Any]]:
    """Bulk operations for `docs`; each profile vector in `vectors`' fields, or left out when
    the index holds none (an index made before vectors keeps serving until rebuilt).  The text
    fields as tantivy's tokens (`analysed`), or as written for an index whose cluster stems."""
    ops: list[dict[str, Any]] = []
    for doc in docs:
        source = {name: value for name, value in doc.items() if name != VECTOR_FIELD}
        if analysed:
            source.update({name: search_analysis.analysed_text(doc.get(name) or "") for name in TEXT_FIELDS})
        vector = doc.get(VECTOR_FIELD)
        if vectors is not None and vector is not None and np.any(vector):  # a zero vector has no direction
            source.update(vectors.fields(np.asarray(vector, dtype=np.int8)))
        ops.append({"index": {"_index": index, "_id": doc["member_id"]}})
        ops.append(source)
    return ops


def _check_bulk(response: dict[str, Any]) -> None:
    if response.get("errors"):
        failures = [item for item in response["items"]
                    for result in item.values() if result.get("status", 200) >= 300 and result.get("status") != 404]
        if failures:
            raise SearchUnavailable(f"bulk request failed for {len(failures)} items: {failures[:3]}")


class DslSearchIndex:
    """A versioned index behind an alias on an Elasticsearch or OpenSearch cluster.

    `vectors`: how this engine keeps profile vectors of the configured model (None: no
    meaning).  Versions it creates hold them; a version made before (or under another model)
    serves searches without meaning until `connect reindex` (or the `matching.vectors` job)
    replaces it."""

    in_process = False
    # Hits of the first request of the base order (ids and scores only; it grows 4x per request).
    first_ranked = 1024

    def __init__(self, client: DslClient, alias: str, refresh: str | bool = "wait_for",
                 vectors: Vectors | None = None) -> None:
        self.client = client
        self.alias = alias
        # "wait_for" makes an indexed change searchable before the consumer commits its offset.
        self.refresh = refresh
        self.vectors = vectors
        self.space = vectors.space if vectors is not None else None
        self.on_switch: Callable[[datetime], None] | None = None
        self._ensured = False
        self._lock = threading.Lock()
        # (index name, its vector space) of what the alias named when last asked.
        self._live: tuple[str, VectorSpace | None] | None = None
        # The analysis version of that index (`analysis_of`).
        self._live_analysis = ANALYSIS_VERSION

    def _new_name(self) -> str:
        return f"{self.alias}-v{datetime.now(timezone.utc).strftime('%Y%m%d%H%M%S%f')}"

    def mappings(self) -> dict[str, Any]:
        """The mappings of a version this process creates."""
        if self.vectors is None:
            return MAPPINGS
        meta = {**MAPPINGS["_meta"],
                "vectors": {"model": self.vectors.space.model_id, "dimensions": self.vectors.space.dimensions}}
        return {**MAPPINGS, "_meta": meta, "properties": {**MAPPINGS["properties"], **self.vectors.properties()}}

    def ensure(self) -> None:
        if self._ensured:
            return
        with self._lock:
            if not self._ensured and not self.client.alias_targets(self.alias):
                # A fixed first name: API and indexer processes racing here create one index, not two
                # (an alias over two indices has no write index).
                self.client.create_index(f"{self.alias}-v0", INDEX_SETTINGS, self.mappings(),
                                         aliases={self.alias: {}}, exist_ok=True)
            self._ensured = True

    @property
    def holds_vectors(self) -> bool:
        """Whether index documents should carry their profile vector (`doc["vector"]`, int8)."""
        return self.vectors is not None

    def _read_live(self) -> tuple[str, VectorSpace | None]:
        self.ensure()
        found = self.client.mappings(self.alias)
        name = max(found) if found else ""
        self._live = (name, space_of(found[name]) if found else None)
        self._live_analysis = analysis_of(found[name]) if found else ANALYSIS_VERSION
        return self._live

    def analysis_current(self) -> bool:
        """False when the live version's cluster stemmed its text itself (rebuild it: until then
        it is written and searched as it was made)."""
        self._read_live()
        return self._live_analysis == ANALYSIS_VERSION

    def _analysed(self) -> bool:
        """Whether the live version (as last read) holds tantivy's tokens."""
        if self._live is None:
            self._read_live()
        return self._live_analysis == ANALYSIS_VERSION

    def vectors_current(self) -> bool:
        """False when the live version holds no vectors of the configured model (rebuild it)."""
        return self.space is None or self._read_live()[1] == self.space

    def _live_vectors(self, fresh: bool = False) -> Vectors | None:
        """This engine's vectors when the live version holds them (else None)."""
        live = self._live if self._live is not None and not fresh else self._read_live()
        return self.vectors if self.vectors is not None and live[1] == self.space else None

    def upsert(self, docs: Iterable[dict[str, Any]]) -> None:
        docs = list(docs)
        if docs:
            # Asked afresh: another process (`connect reindex`) may have swapped the alias.
            ops = _bulk_index_ops(self.alias, docs, self._live_vectors(fresh=True), self._analysed())
            _check_bulk(self.client.bulk(ops, refresh=self.refresh))

    def delete(self, member_ids: Iterable[str]) -> None:
        ops = [{"delete": {"_index": self.alias, "_id": member_id}} for member_id in member_ids]
        if ops:
            self.ensure()
            _check_bulk(self.client.bulk(ops, refresh=self.refresh))

    def search(self, query: SearchQuery) -> SearchPage:
        self.ensure()
        if query.meaning is not None:
            vectors = self._live_vectors()
            if vectors is not None and query.meaning.model_id == vectors.space.model_id:
                return self._search_with_meaning(query, vectors)
            # A version without this model's vectors (not rebuilt yet): words and criteria only.
            query = replace(query, meaning=None)
        response = self.client.search(self.alias, search_body(query, self._analysed()))
        raw_hits = response["hits"]["hits"]
        self._notice(raw_hits)
        hits = [SearchHit(member_id=h["_source"]["member_id"], score=exact_score(h["_score"]),
                          doc=search_analysis.with_profile_text(h["_source"]), sort=(float(h["sort"][0]), str(h["sort"][1])))
                for h in raw_hits[:query.size]]
        next_cursor = None
        if len(raw_hits) > query.size and hits:
            next_cursor = query.next_cursor(len(hits), hits[-1].sort)
        return SearchPage(hits=hits, total=_total(response), next_cursor=next_cursor)

    def _notice(self, raw_hits: list[dict[str, Any]]) -> None:
        """Forget what the alias named when a hit comes from another index (swapped elsewhere),
        or when an index of the earlier analysis answered nothing: words searched its way find
        little in its replacement, so no hit may come to tell of the swap."""
        if self._live is None:
            return
        if (raw_hits[0].get("_index") != self._live[0] if raw_hits
                else self._live_analysis != ANALYSIS_VERSION):
            self._live = None

    def _search_with_meaning(self, query: SearchQuery, vectors: Vectors) -> SearchPage:
        """The page by final score (base + semantic bonus) from the engine's two orders, by base
        and by similarity (`search_threshold.settle`); the cursor is applied on the final order."""
        lists = _EngineLists(self, query, vectors)
        cursor = query.cursor
        wanted = query.size + 1
        ranked = settle(lists, query.semantic_bonus, wanted, cursor.after if cursor else None,
                        first_nearest=vectors.first_nearest,
                        first_ranked=min(MAX_CHUNK, max(self.first_ranked,
                                                        ((cursor.returned if cursor else 0) + wanted) * 2)))
        shown = ranked.top[:query.size]
        docs = lists.documents([member_id for _final, member_id, _sim in shown])
        hits = [SearchHit(member_id=member_id, score=final, doc=docs[member_id], sort=(final, member_id),
                          similarity=sim)
                for final, member_id, sim in shown if member_id in docs]
        next_cursor = query.next_cursor(len(hits), hits[-1].sort) if len(ranked.top) > query.size and hits else None
        log.debug("search with a need: %s requests %s", lists.total, ranked.reads)
        return SearchPage(hits=hits, total=lists.total, next_cursor=next_cursor)

    def count(self) -> int:
        self.ensure()
        return self.client.count(self.alias)

    def ping(self) -> None:
        self.client.ping()

    def close(self) -> None:
        self.client.close()

    def begin_build(self) -> "DslBuild":
        name = self._new_name()
        settings = {**INDEX_SETTINGS, "refresh_interval": "-1"}
        self.client.create_index(name, settings, self.mappings())
        return DslBuild(self, name)


class _EngineLists:
    """The two orders of a search with a need, and the requests by id, on one DSL index
    (`search_threshold.TwoLists`).  Only the nearest's first requests and `Vectors.similarities`
    read stored vectors; every other request asks for ids and scores alone."""

    def __init__(self, index: DslSearchIndex, query: SearchQuery, vectors: Vectors) -> None:
        self.index, self.query, self.vectors = index, query, vectors
        self.total = 0
        self._after: list[Any] | None = None
        self._nearest = vectors.nearest(self.search, query)
        self._noticed = False

    def search(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.index.client.search(self.index.alias, body)
        if not self._noticed:
            self.index._notice(response["hits"]["hits"])
            self._noticed = True
        return response

    def nearest(self, count: int) -> tuple[list[tuple[str, float]], bool]:
        return self._nearest.read(count)

    def _ranking(self, near_ids: list[str]) -> dict[str, Any]:
        return compile_query(self.query, near_ids, analysed=self.index._analysed())

    def ranked(self, near_ids: list[str], count: int) -> tuple[list[tuple[str, float]], bool]:
        body: dict[str, Any] = {"query": self._ranking(near_ids),
                                "sort": BY_SCORE_THEN_ID,
                                "size": count, "_source": False, "track_total_hits": self._after is None}
        if self._after is not None:
            body["search_after"] = self._after
        response = self.search(body)
        hits = response["hits"]["hits"]
        if self._after is None:
            self.total = _total(response)
        if hits:
            self._after = hits[-1]["sort"]
        return [(h["_id"], exact_score(h["_score"])) for h in hits], len(hits) == count

    def bases(self, near_ids: list[str], ids: list[str]) -> dict[str, float]:
        found: dict[str, float] = {}
        for batch in _batches(ids):
            hits = self.search({"query": {"bool": {"must": [self._ranking(near_ids)], "filter": [_ids_filter(batch)]}},
                                "size": len(batch), "_source": False})["hits"]["hits"]
            found.update((h["_id"], exact_score(h["_score"])) for h in hits)
        return found

    def estimates(self, ids: list[str]) -> dict[str, float]:
        return self.vectors.estimates(self.search, self.query, ids)

    def exact(self, ids: list[str]) -> dict[str, float]:
        return self.vectors.similarities(self.search, self.query, ids)

    def documents(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The shown documents of `ids` (without their vectors)."""
        if not ids:
            return {}
        hits = self.search({"query": _ids_filter(ids), "size": len(ids),
                            "_source": {"excludes": [*VECTOR_FIELDS, *TEXT_FIELDS]}})["hits"]["hits"]
        return {h["_id"]: search_analysis.with_profile_text(h["_source"]) for h in hits}


def _total(response: dict[str, Any]) -> int:
    total = response["hits"]["total"]
    return total["value"] if isinstance(total, dict) else int(total)


class DslBuild:
    def __init__(self, owner: DslSearchIndex, name: str, batch: int = 1000) -> None:
        self.owner = owner
        self.name = name
        self.batch = batch

    def add(self, docs: Iterable[dict[str, Any]]) -> int:
        added = 0
        chunk: list[dict[str, Any]] = []
        for doc in docs:
            chunk.append(doc)
            if len(chunk) >= self.batch:
                added += self._send(chunk)
                chunk = []
        if chunk:
            added += self._send(chunk)
        return added

    def _send(self, docs: list[dict[str, Any]]) -> int:
        _check_bulk(self.owner.client.bulk(_bulk_index_ops(self.name, docs, self.owner.vectors), refresh=False))
        return len(docs)

    def delete(self, member_ids: Iterable[str]) -> None:
        ops = [{"delete": {"_index": self.name, "_id": member_id}} for member_id in member_ids]
        if ops:
            _check_bulk(self.owner.client.bulk(ops, refresh=False))

    def swap(self, started_at: datetime) -> None:
        client = self.owner.client
        client.put_settings(self.name, {"refresh_interval": "1s"})
        client.refresh(self.name)
        old = [name for name in client.alias_targets(self.owner.alias) if name != self.name]
        # One atomic alias update: searches see the old index or the new one, never neither.
        client.update_aliases([{"remove": {"index": name, "alias": self.owner.alias}} for name in old]
                              + [{"add": {"index": self.name, "alias": self.owner.alias}}])
        self.owner._ensured = True
        self.owner._live = None
        for name in old:
            client.delete_index(name)
        log.info("search alias %s now points at %s", self.owner.alias, self.name)
        if self.owner.on_switch is not None:
            self.owner.on_switch(started_at)

    def abort(self) -> None:
        self.owner.client.delete_index(self.name)
