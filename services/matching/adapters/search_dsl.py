"""The Elasticsearch/OpenSearch side of the search index: mappings, the query compiler
and the index lifecycle shared by both clients (they speak the same DSL).

Each criterion is a `constant_score` clause whose boost is its weight, named
`c:<criterion>` so `matched_queries` tells which criteria matched; each query
word is a `dis_max` of `constant_score` clauses over the text fields.  The
analyzer mirrors tantivy's `en_stem` (split on non-alphanumerics, drop tokens
over 40 characters, lowercase, Snowball English) so both engines see the same
words.  Ties are ordered by `member_id`; paging is `search_after` on
(score, member_id).
"""

from __future__ import annotations

import logging
import struct
import threading
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Protocol

from services.matching.domain.search import (MAX_LOAD_LEVEL, Criterion, SearchHit, SearchPage,
                                             SearchQuery)
from services.matching.interfaces import SearchUnavailable

log = logging.getLogger(__name__)

KEYWORD_FIELDS = ("member_id", "expertise", "sectors", "career_stage", "qualifications", "languages",
                  "interaction_modes", "region", "country", "employer", "interests")
TEXT_FIELDS = ("headline", "bio", "expertise_text")

INDEX_SETTINGS: dict[str, Any] = {
    "number_of_shards": 1,
    "number_of_replicas": 0,
    "analysis": {
        "tokenizer": {"connect_words": {"type": "pattern", "pattern": "[^\\p{L}\\p{N}]+"}},
        "filter": {
            "connect_long": {"type": "length", "max": 40},
            "connect_stem": {"type": "snowball", "language": "English"},
        },
        "analyzer": {
            "connect_english": {"type": "custom", "tokenizer": "connect_words",
                                "filter": ["connect_long", "lowercase", "connect_stem"]},
        },
    },
}

MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        **{name: {"type": "keyword"} for name in KEYWORD_FIELDS},
        **{name: {"type": "text", "analyzer": "connect_english", "similarity": "boolean"} for name in TEXT_FIELDS},
        "name": {"type": "keyword", "index": False},
        "years_experience": {"type": "integer"},
        "load_level": {"type": "integer"},
        # Shown, never searched.
        "profile": {"type": "object", "enabled": False},
    },
}


def exact_score(value: Any) -> float:
    """The float32 the engine computed, from the shortest decimal it printed in JSON."""
    return struct.unpack("<f", struct.pack("<f", float(value)))[0]


def _criterion_filter(criterion: Criterion) -> dict[str, Any]:
    if criterion.minimum is not None:
        return {"range": {criterion.index_field: {"gte": criterion.minimum}}}
    return {"terms": {criterion.index_field: list(criterion.values)}}


def compile_query(query: SearchQuery) -> dict[str, Any]:
    """The `query` part of the request body; the same clauses as the tantivy compiler."""
    must: list[dict[str, Any]] = []
    if query.scored:
        scoring: list[dict[str, Any]] = [
            {"constant_score": {"filter": _criterion_filter(c), "boost": c.weight, "_name": f"c:{c.name}"}}
            for c in query.criteria
        ]
        for i, word_clauses in enumerate(query.text_clauses()):
            scoring.append({"dis_max": {"tie_breaker": 0.0, "queries": [
                {"constant_score": {"filter": {"match": {c.field: c.term}}, "boost": c.boost,
                                    "_name": f"t:{i}:{c.field}"}}
                for c in word_clauses
            ]}})
        must.append({"bool": {"should": scoring, "minimum_should_match": 1}})
    body: dict[str, Any] = {
        "must": must,
        "filter": [_criterion_filter(c) for c in query.filters] or [{"match_all": {}}],
        "should": [
            {"constant_score": {"filter": {"term": {"load_level": level}}, "boost": query.nudge(level)}}
            for level in range(MAX_LOAD_LEVEL)
        ],
        # Nudges only add; they never decide whether a mentor is listed.
        "minimum_should_match": 0,
    }
    if query.exclude_ids:
        body["must_not"] = [{"terms": {"member_id": list(query.exclude_ids)}}]
    return {"bool": body}


def search_body(query: SearchQuery) -> dict[str, Any]:
    body: dict[str, Any] = {
        "query": compile_query(query),
        "sort": [{"_score": {"order": "desc"}}, {"member_id": {"order": "asc"}}],
        "size": query.size + 1,
        "track_total_hits": True,
    }
    if query.cursor is not None:
        body["search_after"] = list(query.cursor.after)
    return body


class DslClient(Protocol):
    """What the adapters need from a client: the few calls of elasticsearch-py / opensearch-py."""

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def bulk(self, operations: list[dict[str, Any]], refresh: str | bool) -> dict[str, Any]: ...

    def alias_targets(self, alias: str) -> list[str]: ...

    def create_index(self, name: str, settings: dict[str, Any], mappings: dict[str, Any],
                     aliases: dict[str, Any] | None = None, exist_ok: bool = False) -> None: ...

    def put_settings(self, name: str, settings: dict[str, Any]) -> None: ...

    def refresh(self, name: str) -> None: ...

    def update_aliases(self, actions: list[dict[str, Any]]) -> None: ...

    def delete_index(self, name: str) -> None: ...

    def count(self, index: str) -> int: ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


def _bulk_index_ops(index: str, docs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    ops: list[dict[str, Any]] = []
    for doc in docs:
        ops.append({"index": {"_index": index, "_id": doc["member_id"]}})
        ops.append(doc)
    return ops


def _check_bulk(response: dict[str, Any]) -> None:
    if response.get("errors"):
        failures = [item for item in response["items"]
                    for result in item.values() if result.get("status", 200) >= 300 and result.get("status") != 404]
        if failures:
            raise SearchUnavailable(f"bulk request failed for {len(failures)} items: {failures[:3]}")


class DslSearchIndex:
    """A versioned index behind an alias on an Elasticsearch or OpenSearch cluster."""

    in_process = False

    def __init__(self, client: DslClient, alias: str, refresh: str | bool = "wait_for") -> None:
        self.client = client
        self.alias = alias
        # "wait_for" makes an indexed change searchable before the consumer commits its offset.
        self.refresh = refresh
        self.on_switch: Callable[[datetime], None] | None = None
        self._ensured = False
        self._lock = threading.Lock()

    def _new_name(self) -> str:
        return f"{self.alias}-v{datetime.now(timezone.utc).strftime('%Y%m%d%H%M%S%f')}"

    def ensure(self) -> None:
        if self._ensured:
            return
        with self._lock:
            if not self._ensured and not self.client.alias_targets(self.alias):
                # A fixed first name: API and indexer processes racing here create one index, not two
                # (an alias over two indices has no write index).
                self.client.create_index(f"{self.alias}-v0", INDEX_SETTINGS, MAPPINGS, aliases={self.alias: {}},
                                         exist_ok=True)
            self._ensured = True

    def upsert(self, docs: Iterable[dict[str, Any]]) -> None:
        ops = _bulk_index_ops(self.alias, docs)
        if ops:
            self.ensure()
            _check_bulk(self.client.bulk(ops, refresh=self.refresh))

    def delete(self, member_ids: Iterable[str]) -> None:
        ops = [{"delete": {"_index": self.alias, "_id": member_id}} for member_id in member_ids]
        if ops:
            self.ensure()
            _check_bulk(self.client.bulk(ops, refresh=self.refresh))

    def search(self, query: SearchQuery) -> SearchPage:
        self.ensure()
        response = self.client.search(self.alias, search_body(query))
        raw_hits = response["hits"]["hits"]
        total = response["hits"]["total"]
        total_count = total["value"] if isinstance(total, dict) else int(total)
        hits = [SearchHit(member_id=h["_source"]["member_id"], score=exact_score(h["_score"]),
                          doc=h["_source"], sort=(float(h["sort"][0]), str(h["sort"][1])))
                for h in raw_hits[:query.size]]
        next_cursor = None
        if len(raw_hits) > query.size and hits:
            next_cursor = query.next_cursor(len(hits), hits[-1].sort)
        return SearchPage(hits=hits, total=total_count, next_cursor=next_cursor)

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
        self.client.create_index(name, settings, MAPPINGS)
        return DslBuild(self, name)


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
        _check_bulk(self.owner.client.bulk(_bulk_index_ops(self.name, docs), refresh=False))
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
        for name in old:
            client.delete_index(name)
        log.info("search alias %s now points at %s", self.owner.alias, self.name)
        if self.owner.on_switch is not None:
            self.owner.on_switch(started_at)

    def abort(self) -> None:
        self.owner.client.delete_index(self.name)
