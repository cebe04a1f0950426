"""The ops mirror's use cases: every event, as a document in a daily index; erasures
applied to the documents as the embedded event log applies them to itself.

The mirror is one more consumer (group `ops-mirror`, role `ops`: `connect run ops`)
on every topic, wired only where a search cluster is configured
(`CONNECT_SEARCH_URL` with an `opensearch+` or `elasticsearch+` scheme): the
embedded shape has no Kibana to feed.  Documents: `domain/mirror.py`.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import Any, Sequence

from connect.events import PoisonMessage, Record, UnknownTypes, decode_event
from schemas.events import MEMBERS_TOPIC, PROFILES_TOPIC, Envelope, MemberErased, erased_from
from services.ops.domain.mirror import (PROPOSAL_CLOCK_INDEX, answers_proposal, document, index_for,
                                        index_template, time_answers)
from services.ops.interfaces import OpsIndex

log = logging.getLogger(__name__)


class EventMirror:
    """Records in, documents out: one bulk request per batch (plus the proposal clock).

    Usable as a per-record consumer handler too (`__call__`), but the ops role runs
    `MirrorLoop`, which hands it whole polled batches: one request per event caps
    the mirror at a few dozen events a second, one per batch keeps up with the
    platform's peak.
    """

    def __init__(self, index: OpsIndex, prefix: str = "connect-events", clock_index: str = PROPOSAL_CLOCK_INDEX,
                 now: Any = lambda: datetime.now(timezone.utc)) -> None:
        self.index = index
        self.prefix = prefix
        self.clock_index = clock_index
        self.now = now
        self._template_ready = False
        self._lock = threading.Lock()

    def ensure_template(self) -> None:
        with self._lock:
            if not self._template_ready:
                self.index.put_template(self.prefix, index_template(self.prefix, self.index.flat_object_type))
                self._template_ready = True
                log.info("index template for %s-* in place", self.prefix)

    def mirror_batch(self, records: Sequence[Record]) -> list[tuple[Record, str]]:
        """Store the documents of every event among `records`; return the records that are
        not events, with the reason, for the caller to dead-letter."""
        poison: list[tuple[Record, str]] = []
        docs: list[dict[str, Any]] = []
        mirrored_at = self.now()
        for record in records:
            try:
                decoded = decode_event(record.value, UnknownTypes.ENVELOPE_ONLY)
            except PoisonMessage as exc:
                poison.append((record, str(exc)))
                continue
            assert decoded is not None  # ENVELOPE_ONLY reads every envelope
            docs.append(document(decoded.envelope, record.topic, mirrored_at))
        if not docs:
            return poison
        self.ensure_template()
        actions = [(index_for(self.prefix, datetime.fromisoformat(doc["occurred_at"])), doc["event_id"], doc)
                   for doc in docs]
        answered = sorted({doc["relationship_id"] for doc in docs
                           if answers_proposal(doc["type"]) and doc.get("relationship_id")})
        stored = self.index.mget(self.clock_index, answered) if answered else {}
        actions += [(self.clock_index, relationship_id, {"relationship_id": relationship_id, "since": since})
                    for relationship_id, since in time_answers(docs, stored).items()]
        self.index.bulk(actions)
        for doc in docs:
            if doc["type"] == MemberErased.TYPE:
                self.erase_member(doc["member_id"])
        return poison

    def erase_member(self, member_id: str) -> None:
        """Apply an erasure to the mirror as the embedded log applies it to itself:
        the member's own records (members and profiles topics) go, and relationship
        documents that mention them keep their figures but lose the personal text
        (`schemas.events.erased_from` decides which fields)."""
        mentions = {"bool": {"should": [{"term": {field: member_id}} for field in
                                        ("key", "member_id", "mentor_id", "mentee_id", "actor_id",
                                         "data.alternatives.member_id")],
                             "minimum_should_match": 1}}
        found = self.index.find(f"{self.prefix}-*", mentions)
        deletions: list[tuple[str, str]] = []
        rewrites: list[tuple[str, str, dict[str, Any]]] = []
        for index, doc_id, source in found:
            if source.get("type") == MemberErased.TYPE:
                continue
            if source.get("topic") in (MEMBERS_TOPIC, PROFILES_TOPIC) and source.get("key") == member_id:
                deletions.append((index, doc_id))
                continue
            envelope = Envelope(event_id=source["event_id"], type=source["type"], version=source.get("version", 1),
                                occurred_at=source["occurred_at"], producer=source.get("producer", ""),
                                key=source["key"], data=source.get("data") or {})
            scrubbed = erased_from(envelope, member_id)
            if scrubbed is None:
                continue
            doc = document(scrubbed, source["topic"], datetime.fromisoformat(source["mirrored_at"]))
            if "answer_seconds" in source:
                doc["answer_seconds"] = source["answer_seconds"]
            rewrites.append((index, doc_id, doc))
        if deletions:
            self.index.delete(deletions)
        if rewrites:
            self.index.bulk(rewrites)
        log.info("erasure of a member applied to the ops mirror: %s documents deleted, %s scrubbed",
                 len(deletions), len(rewrites))

    def __call__(self, record: Record) -> None:
        for _, reason in self.mirror_batch([record]):
            raise PoisonMessage(reason)
